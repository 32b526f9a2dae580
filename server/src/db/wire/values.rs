//! Values across the wire: a sea-orm [`Value`] bound as a parameter (with
//! the Postgres type sqlx would declare for it, so a statement means the
//! same on both drivers), and a result row as a sea-orm [`QueryResult`]
//! whose columns carry the [`Value`] variant the matching Rust type reads.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::Arc;

use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::backend::DataRowBody;
use sea_orm::sea_query::ArrayType;
use sea_orm::{DbErr, ProxyRow, QueryResult, Value};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// A result column: its name and type.
#[derive(Debug)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: Type,
}

/// The columns of a statement's rows.
pub(super) type Columns = Arc<[Column]>;

/// A result row: its statement's columns and the row's values (binary).
pub(super) struct Row {
    pub(super) columns: Columns,
    pub(super) body: DataRowBody,
}

/// One bound value. Its `Debug` names only the type: bound values are
/// session proofs and API keys.
pub(super) struct Param<'a>(pub(super) &'a Value);

impl std::fmt::Debug for Param<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match pg_type(self.0) {
            Ok(ty) => write!(f, "Param({ty})"),
            Err(_) => f.write_str("Param(?)"),
        }
    }
}

type Encoded = Result<IsNull, Box<dyn StdError + Sync + Send>>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Encoded {
        match self.0 {
            Value::Bool(v) => v.to_sql(ty, out),
            Value::SmallInt(v) => v.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::BigInt(v) => v.to_sql(ty, out),
            Value::Unsigned(v) => v.map(i64::from).to_sql(ty, out),
            Value::BigUnsigned(v) => v.map(i64::try_from).transpose()?.to_sql(ty, out),
            Value::Float(v) => v.to_sql(ty, out),
            Value::Double(v) => v.to_sql(ty, out),
            Value::String(v) => v.as_deref().to_sql(ty, out),
            Value::Bytes(v) => v.as_deref().to_sql(ty, out),
            Value::Uuid(v) => v.to_sql(ty, out),
            Value::ChronoDateTimeUtc(v) => v.to_sql(ty, out),
            Value::Json(v) => v.as_deref().to_sql(ty, out),
            Value::Array(ArrayType::String, v) => match v {
                None => Ok(IsNull::Yes),
                Some(items) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.as_deref()),
                        _ => Err("an array of text holds a value that is not text"),
                    })
                    .collect::<Result<Vec<Option<&str>>, _>>()?
                    .to_sql(ty, out),
            },
            _ => Err("a parameter of a type the app pool does not bind".into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The statement was prepared with the type `pg_type` declared for
        // this very value.
        true
    }

    to_sql_checked!();
}

/// The Postgres type a value is declared as (sqlx's choice for the same
/// value, `sea_query_sqlx`).
pub(super) fn pg_type(value: &Value) -> Result<Type, DbErr> {
    Ok(match value {
        Value::Bool(_) => Type::BOOL,
        Value::SmallInt(_) => Type::INT2,
        Value::Int(_) => Type::INT4,
        Value::BigInt(_) | Value::Unsigned(_) | Value::BigUnsigned(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::String(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        Value::Uuid(_) => Type::UUID,
        Value::ChronoDateTimeUtc(_) => Type::TIMESTAMPTZ,
        Value::Json(_) => Type::JSONB,
        Value::Array(ArrayType::String, _) => Type::TEXT_ARRAY,
        _ => {
            return Err(DbErr::Type(
                "a parameter type the app pool does not bind".into(),
            ));
        }
    })
}

/// A result row as sea-orm reads it: each column by name, as the [`Value`]
/// variant of its Postgres type. A column of a type with no mapping fails
/// the statement (a silent gap would read as NULL).
pub(super) fn row(row: &Row) -> Result<QueryResult, DbErr> {
    let mut values = BTreeMap::new();
    let mut ranges = row.body.ranges();
    for column in row.columns.iter() {
        let range = ranges.next().ok().flatten().ok_or_else(|| {
            DbErr::Type(format!("column {} is missing from the row", column.name))
        })?;
        let raw = range.map(|r| &row.body.buffer()[r]);
        let ty = &column.ty;
        let get = Get {
            ty,
            raw,
            name: &column.name,
        };
        let value = match *ty {
            Type::VOID => continue,
            Type::BOOL => Value::Bool(get.value()?),
            Type::INT2 => Value::SmallInt(get.value()?),
            Type::INT4 => Value::Int(get.value()?),
            Type::INT8 => Value::BigInt(get.value()?),
            Type::FLOAT4 => Value::Float(get.value()?),
            Type::FLOAT8 => Value::Double(get.value()?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Value::String(get.value()?),
            Type::BYTEA => Value::Bytes(get.value()?),
            Type::UUID => Value::Uuid(get.value()?),
            Type::TIMESTAMPTZ => Value::ChronoDateTimeUtc(get.value()?),
            Type::JSON | Type::JSONB => {
                Value::Json(get.value::<serde_json::Value>()?.map(Box::new))
            }
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => Value::Array(
                ArrayType::String,
                get.value::<Vec<Option<String>>>()?
                    .map(|items| Box::new(items.into_iter().map(Value::String).collect())),
            ),
            ref other => {
                return Err(DbErr::Type(format!(
                    "column {} has type {other}, which the app pool does not read",
                    column.name
                )));
            }
        };
        values.insert(column.name.clone(), value);
    }
    Ok(ProxyRow::new(values).into())
}

/// One column's value, to read as a Rust type.
struct Get<'a> {
    ty: &'a Type,
    raw: Option<&'a [u8]>,
    name: &'a str,
}

impl<'a> Get<'a> {
    fn value<T: FromSql<'a>>(&self) -> Result<Option<T>, DbErr> {
        if !T::accepts(self.ty) {
            return Err(DbErr::Type(format!(
                "column {} cannot be read as its type",
                self.name
            )));
        }
        <Option<T> as FromSql>::from_sql_nullable(self.ty, self.raw)
            .map_err(|e| DbErr::Type(format!("column {}: {e}", self.name)))
    }
}
