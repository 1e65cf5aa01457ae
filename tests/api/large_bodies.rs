//! The 413 for an oversized body reaches every client, including those that send the whole body
//! before reading (no `Expect: 100-continue`, as Python's urllib): a plain TCP client against a
//! real listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, error_code};

const THREE_MIB: usize = 3 * 1024 * 1024;

async fn listen(app: &common::TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

enum Framing {
    Length,
    Chunked,
    /// `Expect: 100-continue` with a length; the body is never sent.
    ExpectContinue,
}

/// Sends a POST of `size` bytes from a plain socket and reads the whole answer: its status and
/// body. Every write must succeed: a reset connection is the failure this guards against.
fn post_raw(addr: SocketAddr, token: &str, size: usize, framing: Framing) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let framing_header = match framing {
        Framing::Length => format!("Content-Length: {size}\r\n"),
        Framing::Chunked => "Transfer-Encoding: chunked\r\n".to_owned(),
        Framing::ExpectContinue => {
            format!("Content-Length: {size}\r\nExpect: 100-continue\r\n")
        }
    };
    let head = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\n{framing_header}Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("headers written");
    // A JSON document padded to `size` bytes.
    let prefix = b"{\"query\": \"{ me { username } }\", \"pad\": \"";
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(prefix);
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    match framing {
        Framing::Length => stream.write_all(&body).expect("the whole body is read"),
        Framing::Chunked => {
            for chunk in body.chunks(64 * 1024) {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|()| stream.write_all(chunk))
                    .and_then(|()| stream.write_all(b"\r\n"))
                    .expect("the whole body is read");
            }
            stream.write_all(b"0\r\n\r\n").expect("the last chunk");
        }
        Framing::ExpectContinue => {}
    }
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("the answer is read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn post(addr: SocketAddr, token: &str, size: usize, framing: Framing) -> (u16, String) {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || post_raw(addr, &token, size, framing))
        .await
        .unwrap()
}

fn coded(body: &str) -> Option<String> {
    // A chunked answer: the JSON is the first chunk.
    let json = body.find('{').map(|i| &body[i..]).unwrap_or("");
    let end = json.rfind('}').map(|i| &json[..=i]).unwrap_or("");
    serde_json::from_str::<Value>(end)
        .ok()
        .and_then(|v| error_code(&v))
}

on_both!(
    three_mebibytes_without_expect_get_a_413_the_client_can_read,
    |app| {
        let addr = listen(app).await;
        for framing in [Framing::Length, Framing::Chunked] {
            let (status, body) = post(addr, &app.token, THREE_MIB, framing).await;
            assert_eq!(status, 413, "{body}");
            assert_eq!(coded(&body).as_deref(), Some("QUERY_TOO_COMPLEX"), "{body}");
        }
    }
);

on_both!(
    a_client_that_expects_100_continue_is_answered_before_it_sends_the_body,
    |app| {
        let addr = listen(app).await;
        let started = Instant::now();
        let (status, body) = post(addr, &app.token, THREE_MIB, Framing::ExpectContinue).await;
        assert_eq!(status, 413, "no 100 Continue first: {body}");
        assert_eq!(coded(&body).as_deref(), Some("QUERY_TOO_COMPLEX"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
);

on_both!(a_body_within_the_limit_is_served_over_a_socket, |app| {
    let addr = listen(app).await;
    for framing in [Framing::Length, Framing::Chunked] {
        let (status, body) = post(addr, &app.token, 512 * 1024, framing).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"username\":\"admin\""), "{body}");
    }
});
