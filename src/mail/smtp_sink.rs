//! Tests only: a minimal SMTP server on 127.0.0.1 that accepts every message and hands it to the test.
//!
//! It answers EHLO advertising `AUTH PLAIN LOGIN`, accepts AUTH PLAIN only for `mailer` / `s3cret-pass`,
//! and captures the envelope and the DATA of each message.

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One message as the server received it.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The raw DATA, CRLF line ends, without the final dot line.
    pub data: String,
    /// Whether the client logged in with the expected credentials before sending.
    pub authenticated: bool,
}

pub(super) struct SmtpSink {
    pub port: u16,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let (sender, deliveries) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, sender.clone()));
            }
        });
        Self { port, deliveries }
    }

    pub async fn next_delivery(&mut self) -> Delivery {
        let received = tokio::time::timeout(Duration::from_secs(10), self.deliveries.recv()).await;
        received
            .expect("no message within 10 s")
            .expect("sink stopped")
    }
}

async fn serve(
    stream: TcpStream,
    deliveries: mpsc::UnboundedSender<Delivery>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut current = Delivery::default();
    let mut line = String::new();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n",
            "AUTH" => {
                let encoded = command.rsplit(' ').next().unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                current.authenticated = decoded == b"\0mailer\0s3cret-pass";
                if current.authenticated {
                    b"235 2.7.0 accepted\r\n"
                } else {
                    b"535 5.7.8 refused\r\n"
                }
            }
            "MAIL" => {
                current.mail_from = envelope_address(command);
                b"250 ok\r\n"
            }
            "RCPT" => {
                current.rcpt_to.push(envelope_address(command));
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 || line == ".\r\n" {
                        break;
                    }
                    current.data.push_str(&line);
                }
                let authenticated = current.authenticated;
                let delivery = std::mem::replace(
                    &mut current,
                    Delivery {
                        authenticated,
                        ..Delivery::default()
                    },
                );
                // The test may have stopped listening; the client still deserves its answer.
                let _ = deliveries.send(delivery);
                b"250 queued\r\n"
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

/// `MAIL FROM:<a@b> SIZE=1` → `<a@b>`.
fn envelope_address(command: &str) -> String {
    let after_colon = command.split_once(':').map_or("", |(_, rest)| rest);
    after_colon
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}
