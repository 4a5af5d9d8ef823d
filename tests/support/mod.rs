// Each test binary uses a part of these helpers.
#![allow(dead_code)]

//! Starting the example server binary for the tests that talk to it over TCP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Ends a child process when the test ends, however it ends.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
pub(crate) async fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn example_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/server
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join("server")
}

/// The example server over fresh files in `dir`, with 300 demo users and the admin
/// `root@example.com` / `a long test password`; answers it and its port once it listens.
/// What it prints goes to `dir/stdout.log`.
pub(crate) async fn start_example_server(dir: &Path) -> (Process, u16) {
    start_example_server_with(dir, &["--demo-users", "300"], &[]).await
}

/// The example server over fresh files in `dir` with these arguments and extra environment,
/// and the admin `root@example.com` / `a long test password`.
pub(crate) async fn start_example_server_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (Process, u16) {
    let binary = example_binary();
    assert!(binary.exists(), "{} not built", binary.display());
    let port = free_port();
    let server = Process(
        Command::new(&binary)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("USERMGMT_DATABASE_URL", dir.join("server.db"))
            .env("USERMGMT_LEARNING_DB", dir.join("learning.db"))
            .env("USERMGMT_BIND", format!("127.0.0.1:{port}"))
            .env("USERMGMT_ADMIN_EMAIL", "root@example.com")
            .env("USERMGMT_ADMIN_PASSWORD", "a long test password")
            .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, "the example server").await;
    (server, port)
}
