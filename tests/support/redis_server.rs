//! A Redis server for the Redis store's tests and bench: the one CI names
//! in `SPENDGUARD_REDIS_URL`, or a `redis-server` started here on a free
//! loopback port and killed when dropped.

// Test binaries that include `support` for the mock provider use none of this.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server to run against. When this started it, dropping it kills it.
pub struct RedisServer {
    url: String,
    own: Option<OwnServer>,
}

struct OwnServer {
    port: u16,
    /// Arguments past the port and persistence settings.
    extra: Vec<String>,
    /// Serving TLS only: ready once the port accepts connections.
    tls: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// The server in `SPENDGUARD_REDIS_URL`, or else one of our own; `None`
    /// (having said why on stderr) if neither is available, and the caller
    /// skips.
    pub fn shared_or_own() -> Option<RedisServer> {
        match std::env::var("SPENDGUARD_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(RedisServer { url, own: None }),
            _ => RedisServer::own(),
        }
    }

    /// A `redis-server` of our own, which a test may stop and restart.
    pub fn own() -> Option<RedisServer> {
        let port = free_port();
        let own = OwnServer {
            port,
            extra: Vec::new(),
            tls: false,
            child: None,
        };
        RedisServer::start_own(own, format!("redis://127.0.0.1:{port}/0"))
    }

    /// A `redis-server` of our own serving TLS only, on a free loopback
    /// port, with `args` naming its certificates; `url` is given the port
    /// and must say how to reach it (`rediss://…:{port}/0`).
    pub fn own_tls(args: &[String], url: impl Fn(u16) -> String) -> Option<RedisServer> {
        let port = free_port();
        let own = OwnServer {
            port,
            extra: args.to_vec(),
            tls: true,
            child: None,
        };
        RedisServer::start_own(own, url(port))
    }

    fn start_own(mut own: OwnServer, url: String) -> Option<RedisServer> {
        if let Err(reason) = own.start() {
            // CI installs a server and sets this: there, no server is a failure.
            assert!(
                std::env::var_os("SPENDGUARD_REQUIRE_REDIS").is_none(),
                "SPENDGUARD_REQUIRE_REDIS is set but no Redis server could be started: {reason}"
            );
            eprintln!("skipped: no Redis server to test against ({reason})");
            return None;
        }
        Some(RedisServer {
            url,
            own: Some(own),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills our server (not a shared one), leaving its port closed.
    pub fn stop(&mut self) {
        self.own.as_mut().expect("only our own server stops").stop();
    }

    /// Starts our server again on the same port.
    pub fn restart(&mut self) {
        let own = self.own.as_mut().expect("only our own server restarts");
        own.start().expect("redis-server restarts");
    }
}

impl OwnServer {
    fn start(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let ports = if self.tls {
            vec!["--tls-port", &port, "--port", "0"]
        } else {
            vec!["--port", &port]
        };
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1"])
            .args(ports)
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("`redis-server` could not be started: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if (self.tls && TcpStream::connect(("127.0.0.1", self.port)).is_ok()) || ping(self.port)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(format!(
            "`redis-server` on port {} did not answer PING",
            self.port
        ))
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(own) = &mut self.own {
            own.stop();
        }
    }
}

/// A loopback port nothing listens on (the OS just handed it out).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// A key prefix no other test shares, so tests can run in parallel on one
/// server.
pub fn unique_prefix(test: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(Instant::now());
    format!("sgtest:{test}:{}:{random:016x}", std::process::id())
}
