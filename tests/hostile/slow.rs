//! Slow clients against the server process, with short timeouts so the test is quick
//! (`ESCROW_HEADER_READ_TIMEOUT_S=4`, `ESCROW_REQUEST_TIMEOUT_S=3`, `ESCROW_UPLOAD_TIMEOUT_S=4`): headers trickled a byte at
//! a time (slowloris), a connection that says nothing, and a body trickled after its headers
//! are each cut off by a timeout; a hundred of them at once do not keep the server from
//! answering others; bodies declared larger than their route's limit are refused with 413
//! before they are read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use escrow::auth::Role;

use crate::world::{User, World};

const HEADER_READ_TIMEOUT_S: u64 = 4;
const REQUEST_TIMEOUT_S: u64 = 3;
const UPLOAD_TIMEOUT_S: u64 = 4;
/// How long the server may take to answer someone else while slow clients hold connections:
/// well under the header-read timeout, so an answer that waited for them would show.
const OTHERS_ANSWERED_WITHIN: Duration = Duration::from_secs(2);

/// Writes `head` at once, then `trickle` one byte every `every` until the server closes the
/// connection or answers; returns what it answered and when the connection ended.
fn trickle(addr: &str, head: &[u8], trickle: &[u8], every: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(every)).unwrap();
    let start = Instant::now();
    s.write_all(head).unwrap();
    let mut out = Vec::new();
    let mut next = trickle.iter().cycle();
    loop {
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("the server kept a slow connection open for 30 s");
        }
        if s.write_all(&[*next.next().unwrap()]).is_err() {
            // Closed: read whatever it said before.
            let _ = s.read_to_end(&mut out);
            break;
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

#[test]
fn slow_and_oversized_clients_are_cut_off_without_holding_the_server() {
    let w = World::start(&[
        (
            "ESCROW_HEADER_READ_TIMEOUT_S",
            &HEADER_READ_TIMEOUT_S.to_string(),
        ),
        ("ESCROW_REQUEST_TIMEOUT_S", &REQUEST_TIMEOUT_S.to_string()),
        ("ESCROW_UPLOAD_TIMEOUT_S", &UPLOAD_TIMEOUT_S.to_string()),
    ]);
    let addr = w.server.addr.clone();
    let client = User::new(Role::Client);
    let header_cut = Duration::from_secs(HEADER_READ_TIMEOUT_S);
    let slack = Duration::from_secs(3);
    let mut attacks = 0;

    // Each slow client on its own thread, all at once.
    // (what, sent at once, then trickled, when it must be cut off, what it must be answered)
    type SlowCase = (String, Vec<u8>, Vec<u8>, Duration, &'static str);
    let mut cases: Vec<SlowCase> = vec![(
        // Headers one byte every 200 ms, for ever: closed after the header-read timeout,
        // without an answer.
        "slow headers".into(),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec(),
        b"X-Slow: aaaaaaaaaa\r\n".to_vec(),
        header_cut,
        "",
    )];
    // A body trickled after complete headers: 408 at the request (or upload) timeout, then
    // closed.
    let job = escrow::domain::JobId::generate();
    for (path, extra, cut_s) in [
        (
            format!("/api/client/contract/create-contract/{job}"),
            format!(
                "Authorization: Bearer {}\r\nContent-Type: application/json\r\n",
                client.token
            ),
            REQUEST_TIMEOUT_S,
        ),
        (
            "/webhook".to_string(),
            "Content-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\n".to_string(),
            REQUEST_TIMEOUT_S,
        ),
        (
            "/api/media/upload".to_string(),
            format!(
                "Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=b\r\n",
                client.token
            ),
            UPLOAD_TIMEOUT_S,
        ),
    ] {
        cases.push((
            format!("a slow body on {path}"),
            format!("POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: 5000\r\n\r\n")
                .into_bytes(),
            b"{".to_vec(),
            Duration::from_secs(cut_s),
            "HTTP/1.1 408",
        ));
    }
    let threads: Vec<_> = cases
        .into_iter()
        .map(|(what, head, drip, cut, answer)| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let (said, took) = trickle(&addr, &head, &drip, Duration::from_millis(200));
                assert!(said.starts_with(answer), "{what}: {said}");
                assert!(
                    took >= cut - Duration::from_millis(300) && took < cut + slack,
                    "{what}: cut after {took:?}"
                );
            })
        })
        .collect();
    // A connection that sends nothing at all is closed after the header-read timeout too.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(
        start.elapsed() < header_cut + slack,
        "an idle connection was kept {:?}",
        start.elapsed()
    );
    attacks += 1 + threads.len();
    for t in threads {
        t.join().expect("a slow client");
    }

    // A hundred slowloris connections at once; meanwhile the server answers everyone else at
    // once, and when the timeout passes it has closed them all.
    let mut held: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
                .unwrap();
            s
        })
        .collect();
    attacks += 100;
    for _ in 0..10 {
        let start = Instant::now();
        let said = crate::process::raw(
            &addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        );
        assert!(said.starts_with("HTTP/1.1 200"), "{said}");
        assert!(
            start.elapsed() < OTHERS_ANSWERED_WITHIN,
            "healthz took {:?} while slow clients were connected",
            start.elapsed()
        );
        for s in held.iter_mut() {
            let _ = s.write_all(b"a");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(header_cut + Duration::from_secs(1));
    for s in held.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            s.read(&mut buf).unwrap_or(0),
            0,
            "a slowloris connection was kept"
        );
    }

    // Declared larger than the route's limit: 413 before the body is read.
    for (path, extra, length) in [
        (
            format!("/api/client/contract/create-contract/{job}"),
            format!(
                "Authorization: Bearer {}\r\nContent-Type: application/json\r\n",
                client.token
            ),
            1024 * 1024,
        ),
        (
            "/webhook".to_string(),
            "Content-Type: application/json\r\n".to_string(),
            10 * 1024 * 1024,
        ),
        (
            "/api/media/upload".to_string(),
            format!(
                "Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=b\r\n",
                client.token
            ),
            200 * 1024 * 1024,
        ),
    ] {
        let (line, took) = crate::webhook::declared_only(&addr, &path, &extra, length);
        attacks += 1;
        assert!(line.starts_with("HTTP/1.1 413"), "{path}: {line}");
        assert!(took < Duration::from_secs(2), "{path}: {took:?}");
    }
    assert!(!w.server.log().contains("panicked"), "{}", w.server.log());
    crate::process::figures(
        "slow",
        &format!(
            "slow-client attacks: {attacks} slow or oversized connections: cut off by the header-read or request timeout, or refused before their body"
        ),
    );
}
