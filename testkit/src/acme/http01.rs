//! An http-01 responder: serves `/.well-known/acme-challenge/{token}` with
//! the key authorizations it is given, on a loopback port.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Http01Responder {
    answers: Arc<Mutex<HashMap<String, String>>>,
    pub port: u16,
}

impl Http01Responder {
    /// Serves on `127.0.0.1:{port}` (0: any) from a thread of its own.
    pub fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the http-01 responder");
        let port = listener.local_addr().expect("addr").port();
        let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let served = answers.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let served = served.clone();
                std::thread::spawn(move || answer(stream, &served));
            }
        });
        Self { answers, port }
    }

    pub fn set(&self, token: &str, key_authorization: &str) {
        self.answers.lock().unwrap_or_else(|p| p.into_inner()).insert(token.into(), key_authorization.into());
    }
}

fn answer(mut stream: std::net::TcpStream, answers: &Mutex<HashMap<String, String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let token = path.strip_prefix("/.well-known/acme-challenge/").unwrap_or("");
    let found = answers.lock().unwrap_or_else(|p| p.into_inner()).get(token).cloned();
    let reply = match found {
        Some(body) => {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        }
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    };
    let _ = stream.write_all(reply.as_bytes());
}
