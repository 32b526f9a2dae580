//! A Postgres client that sends the wire protocol one message at a time,
//! for the attacks no driver sends: a portal executed a row at a time and
//! resumed after other statements have run (the unnamed portal of the
//! extended protocol, which `pg_cursors` does not list), or a protocol
//! Function Call (`F`), which runs a function without any statement.
//!
//! Messages are queued (`parse`, `bind`, `execute`, `close_portal`) and
//! leave together with [`RawConn::sync`], which reads every answer up to
//! ReadyForQuery. Values travel as text. SCRAM comes from
//! `postgres-protocol`; the framing is done here because its decoder does
//! not know the Function Call answer (`V`).

use bytes::{Buf as _, BufMut as _, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use secrecy::ExposeSecret as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::cluster::TestCluster;

/// What the server answered between two ReadyForQuery messages.
#[derive(Debug, Default)]
pub struct Reply {
    /// Data rows, each column as text (`None` for NULL).
    pub rows: Vec<Vec<Option<String>>>,
    /// Errors: `(SQLSTATE, message)`.
    pub errors: Vec<(String, String)>,
    /// Whether an Execute stopped at its row limit (PortalSuspended).
    pub suspended: bool,
    /// The results of Function Calls.
    pub results: Vec<Option<String>>,
}

impl Reply {
    /// Panics with the errors unless there were none.
    pub fn ok(self) -> Reply {
        assert!(self.errors.is_empty(), "{:?}", self.errors);
        self
    }
}

/// One connection, spoken to message by message.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    read: BytesMut,
    out: BytesMut,
}

impl RawConn {
    /// Connects as `role` (with its password, SCRAM over loopback TCP) to `db`.
    pub async fn connect(cluster: &TestCluster, role: &str, db: &str) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", cluster.port))
            .await
            .expect("connect to the test cluster");
        let mut c = RawConn {
            stream,
            read: BytesMut::new(),
            out: BytesMut::new(),
        };
        frontend::startup_message([("user", role), ("database", db)], &mut c.out)
            .expect("encode a message");
        c.flush().await;
        let password = cluster.password(role).expose_secret().as_bytes().to_vec();
        let mut scram = None;
        loop {
            let (tag, mut body) = c.message().await;
            match tag {
                b'R' => match body.get_i32() {
                    0 => {}
                    10 => {
                        let s = ScramSha256::new(&password, ChannelBinding::unsupported());
                        frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut c.out)
                            .expect("encode a message");
                        scram = Some(s);
                        c.flush().await;
                    }
                    11 => {
                        let s = scram.as_mut().expect("SCRAM started");
                        s.update(&body).expect("the server's SCRAM answer");
                        frontend::sasl_response(s.message(), &mut c.out).expect("encode a message");
                        c.flush().await;
                    }
                    12 => scram
                        .as_mut()
                        .expect("SCRAM")
                        .finish(&body)
                        .expect("the server's SCRAM signature"),
                    other => panic!("authentication method {other} not spoken here"),
                },
                b'E' => panic!("connect refused: {:?}", error_fields(&body)),
                b'Z' => return c,
                _ => {}
            }
        }
    }

    /// Runs `sql` as a simple query (any number of statements).
    pub async fn simple(&mut self, sql: &str) -> Reply {
        frontend::query(sql, &mut self.out).expect("encode a message");
        self.flush().await;
        self.answers().await
    }

    /// Queues a Parse of `sql` as prepared statement `name` ("" unnamed).
    pub fn parse(&mut self, name: &str, sql: &str) {
        frontend::parse(name, sql, std::iter::empty(), &mut self.out).expect("encode a message");
    }

    /// Queues a Bind of statement `stmt` (no parameters) to `portal`.
    pub fn bind(&mut self, portal: &str, stmt: &str) {
        let none: [Option<&[u8]>; 0] = [];
        frontend::bind(
            portal,
            stmt,
            std::iter::empty(),
            none,
            |_, _| Ok(postgres_protocol::IsNull::Yes),
            std::iter::empty(),
            &mut self.out,
        )
        .map_err(|_| "bind")
        .expect("encode a Bind");
    }

    /// Queues an Execute of `portal` for at most `max_rows` (0: all).
    pub fn execute(&mut self, portal: &str, max_rows: i32) {
        frontend::execute(portal, max_rows, &mut self.out).expect("encode a message");
    }

    /// Queues a Close of `portal`.
    pub fn close_portal(&mut self, portal: &str) {
        frontend::close(b'P', portal, &mut self.out).expect("encode a message");
    }

    /// Sends what is queued with a Sync and reads the answers.
    pub async fn sync(&mut self) -> Reply {
        frontend::sync(&mut self.out);
        self.flush().await;
        self.answers().await
    }

    /// Runs `sql` in a named portal that is closed at once: it leaves no
    /// portal behind, unlike the unnamed one a simple query uses.
    pub async fn in_named_portal(&mut self, sql: &str) -> Reply {
        self.parse("stmt", sql);
        self.bind("portal", "stmt");
        self.execute("portal", 0);
        self.close_portal("portal");
        frontend::close(b'S', "stmt", &mut self.out).expect("encode a message");
        self.sync().await
    }

    /// A protocol Function Call of function `oid` with text `args`.
    pub async fn function_call(&mut self, oid: u32, args: &[Option<&str>]) -> Reply {
        let mut body = BytesMut::new();
        body.put_u32(oid);
        body.put_i16(1);
        body.put_i16(0); // every argument in text
        body.put_i16(i16::try_from(args.len()).expect("few arguments"));
        for a in args {
            match a {
                None => body.put_i32(-1),
                Some(a) => {
                    body.put_i32(i32::try_from(a.len()).expect("a short argument"));
                    body.put_slice(a.as_bytes());
                }
            }
        }
        body.put_i16(0); // the result in text
        self.out.put_u8(b'F');
        self.out
            .put_i32(i32::try_from(body.len() + 4).expect("a short message"));
        self.out.put_slice(&body);
        self.flush().await;
        self.answers().await
    }

    async fn flush(&mut self) {
        self.stream.write_all(&self.out).await.expect("write");
        self.out.clear();
    }

    /// The next message: its tag and body.
    async fn message(&mut self) -> (u8, BytesMut) {
        loop {
            if self.read.len() >= 5 {
                let len = i32::from_be_bytes(self.read[1..5].try_into().expect("four bytes"));
                let len = usize::try_from(len).expect("a message length");
                if self.read.len() > len {
                    let mut m = self.read.split_to(1 + len);
                    let tag = m.get_u8();
                    m.advance(4);
                    return (tag, m);
                }
            }
            let n = self.stream.read_buf(&mut self.read).await.expect("read");
            assert!(n > 0, "the server closed the connection");
        }
    }

    /// Every answer up to ReadyForQuery.
    async fn answers(&mut self) -> Reply {
        let mut reply = Reply::default();
        loop {
            let (tag, mut body) = self.message().await;
            match tag {
                b'D' => {
                    let n = body.get_i16();
                    let row = (0..n).map(|_| text(&mut body)).collect();
                    reply.rows.push(row);
                }
                b'V' => reply.results.push(text(&mut body)),
                b's' => reply.suspended = true,
                b'E' => reply.errors.push(error_fields(&body)),
                b'Z' => return reply,
                _ => {}
            }
        }
    }
}

/// One length-prefixed text value.
fn text(body: &mut BytesMut) -> Option<String> {
    let len = body.get_i32();
    let len = usize::try_from(len).ok()?;
    Some(String::from_utf8_lossy(&body.split_to(len)).into_owned())
}

/// The SQLSTATE and message of an ErrorResponse.
fn error_fields(body: &[u8]) -> (String, String) {
    let (mut code, mut message) = (String::new(), String::new());
    for field in body.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let value = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    (code, message)
}
