//! Where credentials come from, and the `${public_ip}` lookup's limits.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::common::Env;

const SG_ONLY: &str = r#"
stack: creds
security_groups:
  web-sg:
    description: web
"#;

fn write_profiles(env: &Env) {
    // The harness points AWS_SHARED_CREDENTIALS_FILE at this file.
    env.write_file(
        "no-aws-credentials",
        "[team]\naws_access_key_id = AKIDPROFILETEAM\naws_secret_access_key = secret-of-team\n",
    );
}

#[test]
fn an_explicit_profile_wins_over_key_variables() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    write_profiles(&env);
    env.calls();
    env.ok(&["--profile", "team", "plan"]);
    let keys = env.access_keys();
    assert!(!keys.is_empty(), "plan made no call");
    // The harness also exports AWS_ACCESS_KEY_ID=testing; the named profile must win.
    assert!(
        keys.iter().all(|k| k == "AKIDPROFILETEAM"),
        "calls were signed with {keys:?}"
    );

    // AWS_PROFILE counts as naming a profile too.
    let before = env.access_keys().len();
    let out = env
        .command(&["plan"])
        .env("AWS_PROFILE", "team")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = env.access_keys();
    assert!(keys.len() > before);
    assert!(
        keys[before..].iter().all(|k| k == "AKIDPROFILETEAM"),
        "{keys:?}"
    );

    // Without a profile the key variables are used, as before.
    let before = env.access_keys().len();
    env.ok(&["plan"]);
    assert!(env.access_keys()[before..].iter().all(|k| k == "testing"));
}

#[test]
fn a_profile_that_does_not_exist_is_an_error_before_any_call() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    write_profiles(&env);
    env.calls();
    for args in [
        &["--profile", "nope", "plan"][..],
        &["destroy", "--auto-approve", "--profile", "nope"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(r.stderr.contains("profile `nope`"), "{}", r.stderr);
        assert!(r.stderr.contains("defined: team"), "{}", r.stderr);
    }
    assert!(env.calls().is_empty(), "a missing profile reached AWS");
}

/// Serves one fixed HTTP answer to every request (the body may be endless).
fn serve(body: &'static [u8], endless: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                if endless {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    // Stops when deploy hangs up; 200 MiB at most so a broken reader ends too.
                    for _ in 0..(200 * 1024 * 1024 / body.len()) {
                        if s.write_all(body).is_err() {
                            return;
                        }
                    }
                } else {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(body);
                }
            });
        }
    });
    url
}

const WITH_IP: &str = r#"
stack: ip
security_groups:
  db-sg:
    description: db
    ingress:
      - description: DEV
        port: 5432
        cidr: ${public_ip}/32
"#;

#[test]
fn the_public_ip_answer_is_bounded_and_never_echoed() {
    let env = Env::new();
    env.write_stack(WITH_IP);
    let page = serve(
        b"<html><body>Welcome to the captive portal TOKEN-7f3a</body></html>",
        false,
    );
    let out = env
        .command(&["plan"])
        .env("DEPLOY_PUBLIC_IP_URL", &page)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not one IPv4 address"), "{stderr}");
    assert!(
        !stderr.contains("TOKEN-7f3a"),
        "the answer was echoed: {stderr}"
    );

    let endless = serve(&[b'9'; 4096], true);
    let start = std::time::Instant::now();
    let out = env
        .command(&["plan"])
        .env("DEPLOY_PUBLIC_IP_URL", &endless)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("longer than 256 bytes"), "{stderr}");
    assert!(!stderr.contains("9999"), "the answer was echoed: {stderr}");
    assert!(stderr.len() < 1000, "{} bytes on stderr", stderr.len());
    // Reading 200 MiB over loopback would take seconds; stopping after 256 bytes takes none.
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
}
