//! A real SMTP server on 127.0.0.1:0 inside the test process: every message the app sends
//! crosses an SMTP connection and lands here.

use std::time::Duration;

use base64::Engine;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use tokio::sync::{Mutex, mpsc};

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt_to: Vec<String>,
    /// `user:password` from `AUTH PLAIN`, if the client logged in.
    pub login: Option<String>,
    /// Headers and body with quoted-printable soft breaks and escapes decoded.
    pub data: String,
}

impl Received {
    /// The value of a header, e.g. `Subject`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.data.lines().take_while(|l| !l.is_empty()).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }

    /// The `uid` and `token` of the first `/<prefix>/<uid>/<token>` link in the message.
    pub fn link(&self, prefix: &str) -> (String, String) {
        let start = self.data.find(&format!("/{prefix}/")).expect("a link in the message") + prefix.len() + 2;
        let rest = &self.data[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .unwrap_or(rest.len());
        let (uid, token) = rest[..end].split_once('/').expect("uid/token");
        (uid.to_owned(), token.to_owned())
    }
}

pub struct SmtpSink {
    pub port: u16,
    received: Mutex<mpsc::UnboundedReceiver<Received>>,
}

/// How the sink answers the end of each message's DATA.
#[derive(Debug, Clone, Copy, Default)]
pub enum Behaviour {
    /// 250: accepted.
    #[default]
    Accept,
    /// 451 for the first `n` messages, then 250.
    DeferFirst(usize),
    /// 550 for every message.
    Reject,
}

impl SmtpSink {
    /// A sink on a free port that accepts everything.
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on(0, Behaviour::Accept).await
    }

    /// A sink on `port` (0 = any free one) answering as `behaviour` says.
    pub async fn start_on(port: u16, behaviour: Behaviour) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let (sender, received) = mpsc::unbounded_channel();
        let answered = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, sender.clone(), behaviour, answered.clone()));
            }
        });
        SmtpSink {
            port,
            received: Mutex::new(received),
        }
    }

    /// A port nothing listens on yet (for "SMTP is down" tests).
    pub fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    }

    /// Every message that arrives until none has come for `quiet` (for counting deliveries).
    pub async fn drain(&self, quiet: Duration) -> Vec<Received> {
        let mut received = self.received.lock().await;
        let mut all = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout(quiet, received.recv()).await {
            all.push(message);
        }
        all
    }

    /// The next message, waiting up to 10 s.
    pub async fn next(&self) -> Received {
        let mut received = self.received.lock().await;
        tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("no e-mail within 10 s")
            .expect("sink stopped")
    }
}

async fn serve(
    stream: TcpStream,
    sender: mpsc::UnboundedSender<Received>,
    behaviour: Behaviour,
    answered: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut rcpt_to = Vec::new();
    let mut login = None;
    let mut line = String::new();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .split([' ', ':', '\r', '\n'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            // SMTPUTF8: addresses with non-ASCII local parts (RFC 6531) can be delivered.
            "EHLO" | "HELO" => b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN\r\n",
            "AUTH" => {
                let encoded = line.trim_end().rsplit(' ').next().unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                login = Some(
                    String::from_utf8_lossy(&decoded)
                        .trim_start_matches('\0')
                        .replacen('\0', ":", 1),
                );
                b"235 accepted\r\n"
            }
            "MAIL" => {
                rcpt_to.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                rcpt_to.push(line.trim_end().to_owned());
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 || line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                let nth = answered.fetch_add(1, Ordering::SeqCst);
                match behaviour {
                    Behaviour::DeferFirst(n) if nth < n => b"451 4.3.0 try again later\r\n",
                    Behaviour::Reject => b"550 5.1.1 no such mailbox\r\n",
                    _ => {
                        let _ = sender.send(Received {
                            rcpt_to: std::mem::take(&mut rcpt_to),
                            login: login.clone(),
                            data: decode_qp(&data),
                        });
                        b"250 queued\r\n"
                    }
                }
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Undoes quoted-printable soft line breaks and `=XX` escapes (enough to read links).
fn decode_qp(data: &str) -> String {
    let joined = data.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
