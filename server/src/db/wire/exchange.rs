//! One exchange with the server in the extended query protocol: the
//! statements of a write, each `Parse` (the first time on a connection),
//! `Bind` and `Execute`, and a single `Sync` at the end, so the backend
//! answers them all in one flush; then their answers, read in order. After
//! an error the backend skips the rest of the write up to the `Sync`: the
//! statements after the failed one are [`WireError::NotRun`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::backend::{Message, RowDescriptionBody};
use postgres_protocol::message::frontend;
use sea_orm::{DbErr, Value};
use tokio_postgres::types::{IsNull, Kind, ToSql as _, Type};

use super::errors::{ServerError, WireError};
use super::stream::{Stream, next};
use super::values::{Column, Columns, Param, Row, pg_type};

/// What a statement that ran answered.
#[derive(Default)]
pub(super) struct Done {
    pub(super) rows: Vec<Row>,
    /// The row count of its command tag (`UPDATE 3`); 0 when it has none.
    pub(super) affected: u64,
}

/// A statement's answer.
pub(super) type Answer = Result<Done, WireError>;

/// A statement prepared on a connection: its name and its rows' columns.
#[derive(Clone)]
pub(super) struct Prepared {
    name: Arc<str>,
    columns: Columns,
}

/// Prepared statements by SQL text, each with its declared parameter types.
pub(super) type Cache = Mutex<HashMap<String, Vec<(Vec<Type>, Prepared)>>>;

/// A statement's parameters: the values, and the types they are declared as.
pub(super) struct Params<'a> {
    values: Vec<Param<'a>>,
    types: Vec<Type>,
}

impl<'a> Params<'a> {
    /// The parameters of `stmt`.
    pub(super) fn of(stmt: &'a sea_orm::Statement) -> Result<Self, DbErr> {
        let values: &[Value] = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
        Ok(Params {
            values: values.iter().map(Param).collect(),
            types: values.iter().map(pg_type).collect::<Result<_, _>>()?,
        })
    }

    /// No parameters (`BEGIN`, `COMMIT`).
    pub(super) fn none() -> Params<'static> {
        Params {
            values: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// A statement of an exchange.
pub(super) struct Step<'a> {
    pub(super) sql: &'a str,
    pub(super) params: &'a Params<'a>,
}

/// What was sent for a statement: its columns when it was prepared before;
/// otherwise the name it is prepared under now (`None` when statements are
/// not kept, and it is parsed unnamed) and whether that parse succeeded.
pub(super) struct Sent {
    columns: Option<Columns>,
    parsing: Option<Arc<str>>,
    parsed: bool,
}

/// Writes the statements and a `Sync` into `out`. Nothing is written
/// when a value does not encode.
pub(super) fn encode(
    out: &mut BytesMut,
    steps: &[Step<'_>],
    cache: Option<&Cache>,
    names: &mut u32,
) -> Result<Vec<Sent>, WireError> {
    out.clear();
    let mut sent = Vec::with_capacity(steps.len());
    for step in steps {
        let types = &step.params.types;
        let known = cache.and_then(|c| lookup(c, step.sql, types));
        let (name, s) = match known {
            Some(p) => (
                p.name.clone(),
                Sent {
                    columns: Some(p.columns),
                    parsing: None,
                    parsed: false,
                },
            ),
            None => {
                let name: Arc<str> = match cache {
                    Some(_) => {
                        *names += 1;
                        format!("o{names}").into()
                    }
                    None => "".into(),
                };
                frontend::parse(&name, step.sql, types.iter().map(Type::oid), out)
                    .map_err(encoding)?;
                frontend::describe(b'S', &name, out).map_err(encoding)?;
                (
                    name.clone(),
                    Sent {
                        columns: None,
                        parsing: cache.is_some().then_some(name),
                        parsed: false,
                    },
                )
            }
        };
        let values = step.params.values.iter().zip(types);
        frontend::bind(
            "",
            &name,
            Some(1),
            values,
            |(v, ty), buf| {
                v.to_sql(ty, buf).map(|null| match null {
                    IsNull::Yes => postgres_protocol::IsNull::Yes,
                    IsNull::No => postgres_protocol::IsNull::No,
                })
            },
            Some(1),
            out,
        )
        .map_err(|e| match e {
            frontend::BindError::Conversion(e) => {
                WireError::Protocol(format!("a value did not encode: {e}"))
            }
            frontend::BindError::Serialization(e) => encoding(e),
        })?;
        frontend::execute("", 0, out).map_err(encoding)?;
        sent.push(s);
    }
    frontend::sync(out);
    Ok(sent)
}

fn encoding(_: std::io::Error) -> WireError {
    WireError::Protocol("a statement did not encode".into())
}

/// Reads the answers to an exchange of `sent` statements up to its
/// `ReadyForQuery`, keeping the statements prepared now in `cache`: the
/// answers and the transaction status (`I`, `T` or `E`).
pub(super) async fn answers(
    stream: &mut Stream,
    buf: &mut BytesMut,
    mut sent: Vec<Sent>,
    cache: Option<&Cache>,
    steps: &[Step<'_>],
) -> Result<(Vec<Answer>, u8), WireError> {
    let mut answers: Vec<Answer> = Vec::with_capacity(sent.len());
    let mut done = Done::default();
    let mut failed = false;
    loop {
        let i = answers.len();
        match next(stream, buf).await? {
            Message::ReadyForQuery(body) => {
                while answers.len() < sent.len() {
                    answers.push(Err(WireError::NotRun));
                }
                return Ok((answers, body.status()));
            }
            Message::ParameterStatus(_)
            | Message::NoticeResponse(_)
            | Message::NotificationResponse(_)
            | Message::ParameterDescription(_)
            | Message::BindComplete => {}
            _ if failed || i >= sent.len() => return Err(out_of_order()),
            Message::ParseComplete => sent[i].parsed = true,
            Message::RowDescription(body) => sent[i].columns = Some(columns(&body)?),
            Message::NoData => sent[i].columns = Some(Arc::from([])),
            Message::DataRow(body) => {
                let columns = sent[i].columns.clone().ok_or_else(out_of_order)?;
                done.rows.push(Row { columns, body });
            }
            Message::CommandComplete(body) => {
                let tag = body.tag().map_err(|_| out_of_order())?;
                done.affected = tag
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                keep(cache, &sent[i], &steps[i]);
                answers.push(Ok(std::mem::take(&mut done)));
            }
            Message::EmptyQueryResponse => answers.push(Ok(std::mem::take(&mut done))),
            Message::ErrorResponse(body) => {
                keep(cache, &sent[i], &steps[i]);
                answers.push(Err(WireError::Server(Box::new(ServerError::parse(&body)?))));
                failed = true;
            }
            _ => return Err(out_of_order()),
        }
    }
}

/// Reads the answer to a simple query (`Q`) up to its `ReadyForQuery`:
/// whether it succeeded, and the transaction status.
pub(super) async fn simple_answer(
    stream: &mut Stream,
    buf: &mut BytesMut,
) -> Result<(Result<(), WireError>, u8), WireError> {
    let mut result = Ok(());
    loop {
        match next(stream, buf).await? {
            Message::ReadyForQuery(body) => return Ok((result, body.status())),
            Message::ErrorResponse(body) => {
                result = Err(WireError::Server(Box::new(ServerError::parse(&body)?)));
            }
            Message::CommandComplete(_)
            | Message::EmptyQueryResponse
            | Message::RowDescription(_)
            | Message::DataRow(_)
            | Message::ParameterStatus(_)
            | Message::NoticeResponse(_)
            | Message::NotificationResponse(_) => {}
            _ => return Err(out_of_order()),
        }
    }
}

/// Reads messages up to the next `ReadyForQuery`, whatever they say (the
/// rest of an exchange whose caller went away).
pub(super) async fn skip_to_ready(
    stream: &mut Stream,
    buf: &mut BytesMut,
) -> Result<u8, WireError> {
    loop {
        if let Message::ReadyForQuery(body) = next(stream, buf).await? {
            return Ok(body.status());
        }
    }
}

/// Keeps a statement prepared by name in this exchange (a prepared
/// statement outlives a rolled-back transaction).
fn keep(cache: Option<&Cache>, sent: &Sent, step: &Step<'_>) {
    let (Some(cache), Some(name), Some(columns)) = (cache, &sent.parsing, &sent.columns) else {
        return;
    };
    if !sent.parsed {
        return;
    }
    if let Ok(mut cache) = cache.lock() {
        let prepared = Prepared {
            name: name.clone(),
            columns: columns.clone(),
        };
        cache
            .entry(step.sql.to_owned())
            .or_default()
            .push((step.params.types.clone(), prepared));
    }
}

fn lookup(cache: &Cache, sql: &str, types: &[Type]) -> Option<Prepared> {
    let cache = cache.lock().ok()?;
    cache
        .get(sql)?
        .iter()
        .find(|(t, _)| t == types)
        .map(|(_, p)| p.clone())
}

fn columns(body: &RowDescriptionBody) -> Result<Columns, WireError> {
    let mut fields = body.fields();
    let mut columns = Vec::new();
    while let Some(field) = fields.next().map_err(|_| out_of_order())? {
        let oid = field.type_oid();
        let ty = Type::from_oid(oid).unwrap_or_else(|| {
            Type::new(format!("oid {oid}"), oid, Kind::Pseudo, "pg_catalog".into())
        });
        columns.push(Column {
            name: field.name().to_owned(),
            ty,
        });
    }
    Ok(columns.into())
}

fn out_of_order() -> WireError {
    WireError::Protocol("an answer out of order".into())
}
