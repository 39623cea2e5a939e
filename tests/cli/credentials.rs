//! Where credentials and the region come from (profiles, key variables, the stack file's
//! `region:` over the flags), the errors when they are missing or wrong, and the `${public_ip}`
//! lookup's limits (looked up only when needed, its answer bounded and never echoed).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::common::SG_STACK;
use super::common::{Env, Run};

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

/// Answers every request with `response` (a whole raw HTTP response); `None` never answers.
fn raw_server(response: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                let mut len = 0usize;
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; len];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                match response {
                    Some(r) => {
                        let _ = s.write_all(r.as_bytes());
                    }
                    // A stalled answer: hold the connection open, say nothing.
                    None => std::thread::sleep(std::time::Duration::from_secs(600)),
                }
            });
        }
    });
    url
}

#[test]
fn no_credentials_says_how_to_provide_them_before_any_call() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    env.calls();
    let out = env
        .command(&["plan"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
    assert!(stderr.contains("aws configure"), "{stderr}");
    assert!(
        !stderr.contains("endpoint"),
        "it must not blame the endpoint: {stderr}"
    );
    assert!(env.calls().is_empty());
}

#[test]
fn no_region_is_one_line_without_the_sdks_warnings() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    // The region chain's instance-metadata probe goes to a closed loopback port, where it fails
    // the way it does off EC2; its warnings must not reach the user.
    let out = env
        .command(&["plan"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS region"), "{stderr}");
    assert!(stderr.contains("--region"), "{stderr}");
}

#[test]
fn an_endpoint_url_that_is_not_a_url_is_a_clear_error() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    let out = env
        .command(&["plan"])
        .env("AWS_ENDPOINT_URL", "localhost:5000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("AWS_ENDPOINT_URL `localhost:5000` is not a URL"),
        "{stderr}"
    );
    let r = env.run(&["--endpoint-url", "ftp://x", "plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--endpoint-url `ftp://x` is not a URL"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_aws_error_without_a_message_names_service_operation_status_and_request_id() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code></Error></Errors><RequestID>req-4242</RequestID></Response>";
    let resp: &'static str = Box::leak(
        format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let url = raw_server(Some(resp));
    let r = env.run(&["--endpoint-url", &url, "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    // The first round's reads go out at once (EC2, IAM, Lambda...): whichever is refused first
    // is named, with its service, operation, status and request id.
    let named = [
        "(EC2 DescribeVpcs,",
        "(EC2 DescribeSubnets,",
        "(EC2 DescribeSecurityGroups,",
        "(IAM ListRoles,",
        "(Lambda ListFunctions,",
        "(Lambda ListLayers,",
        "(RDS DescribeDBInstances,",
        "(Cognito ListUserPools,",
        "(Resource Groups Tagging GetResources,",
    ];
    assert!(
        named.iter().any(|n| r.stderr.contains(n)),
        "no service and operation named: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("HTTP 403, request id req-4242)"),
        "{}",
        r.stderr
    );
    // A JSON service (Cognito, Lambda) answered in XML cannot parse it: still named the same
    // way, and never with the SDK's dump of the raw response.
    assert!(!r.stderr.contains("ResponseError("), "{}", r.stderr);
    // EC2's own error code is kept when EC2 is the one that answered first.
    if r.stderr.contains("(EC2 ") {
        assert!(r.stderr.contains("UnauthorizedOperation"), "{}", r.stderr);
    }
}

#[test]
fn a_stalled_answer_does_not_hang_the_run() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    let url = raw_server(None);
    let start = std::time::Instant::now();
    let out = env
        .command(&["--endpoint-url", &url, "plan"])
        .env("DEPLOY_AWS_ATTEMPT_TIMEOUT", "0.5")
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    // 5 attempts of 0.5 s plus the retry backoff: seconds, not the 600 s the server would stall.
    assert!(took.as_secs() < 30, "took {took:?}");
}

/// Spec section 2: `region:` in the file, else --region, else the chain.
#[test]
fn the_stack_files_region_wins_over_region_flags_with_a_warning() {
    let env = Env::new();
    env.write_stack(SG_STACK);
    let r = env.ok(&["plan", "--json", "--region", "eu-west-1"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "us-east-1");
    assert!(
        r.stderr.contains("warning: the stack file says `region: us-east-1` and --region eu-west-1 names another region: using us-east-1"),
        "{}",
        r.stderr
    );
    let mut c = env.command(&["plan", "--json"]);
    c.env("AWS_REGION", "eu-west-1");
    let r = Run::from(c.output().unwrap());
    assert_eq!(r.code, 0, "{}", r.all());
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "us-east-1");
    assert!(
        r.stderr
            .contains("AWS_REGION (or the AWS profile) eu-west-1"),
        "{}",
        r.stderr
    );
    // The same region given twice is no news.
    let r = env.ok(&["plan", "--region", "us-east-1"]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // Without `region:` in the file, --region is used.
    env.write_stack(&SG_STACK.replace("region: us-east-1\n", ""));
    let r = env.ok(&["plan", "--json", "--region", "eu-west-1"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "eu-west-1");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

const IP_STACK: &str = r#"
stack: offline
security_groups:
  db:
    description: db
    ingress:
      - description: HOME
        port: 5432
        cidr: ${public_ip}/32
  app:
    description: app
outputs:
  APP_SG: ${security_groups.app.id}
  HOME_CIDR: ${public_ip}/32
"#;

/// The trial's item 6: the public IP is looked up only when what is asked needs it, so that
/// `deploy output APP_SG` and a plan of a group without `${public_ip}` work while the lookup
/// service cannot be reached.
#[test]
fn what_does_not_use_the_public_ip_works_without_the_lookup_service() {
    let env = Env::new();
    env.write_stack(IP_STACK);
    env.ok(&["apply", "--auto-approve"]);
    // Port 1 on loopback: nothing listens, so every lookup fails at once.
    let offline = |args: &[&str]| {
        Run::from(
            env.command(args)
                .env("DEPLOY_PUBLIC_IP_URL", "http://127.0.0.1:1/")
                .output()
                .unwrap(),
        )
    };
    let unreachable = |r: &Run| r.code == 1 && r.stderr.contains("public IP");
    // What needs the address says the lookup failed.
    let r = offline(&["plan"]);
    assert!(unreachable(&r), "{}", r.all());
    let r = offline(&["output", "HOME_CIDR"]);
    assert!(unreachable(&r), "{}", r.all());
    let r = offline(&["plan", "--target", "security_groups.db"]);
    assert!(unreachable(&r), "{}", r.all());
    // What does not, works.
    let r = offline(&["output", "APP_SG"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.trim().starts_with("sg-"), "{}", r.stdout);
    let r = offline(&["plan", "--target", "security_groups.app"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let r = offline(&["plan", "--target", "security_groups.ap"]);
    assert!(
        r.code == 1 && r.stderr.contains("matches no address"),
        "a mistyped target is reported as such: {}",
        r.all()
    );
}
