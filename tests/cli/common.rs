//! Test environment: a private moto server (with request recording, so tests can count the calls
//! the binary makes, independently of the binary), a fake public-IP service, a temp folder for the
//! stack file, and the real `deploy` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "Sup3r-Secret-Pw-9431";

pub struct Env {
    moto: Child,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    recording: PathBuf,
    ip: Arc<Mutex<String>>,
    ip_url: String,
    calls_seen: Mutex<usize>,
}

fn moto_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        p.exists(),
        "moto server not found: run `make test` (it creates .venv with moto), or set MOTO_SERVER_BIN"
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("moto-recording.jsonl");
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut moto = Command::new(moto_bin())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .env("MOTO_ENABLE_RECORDING", "true")
                .env("MOTO_RECORDER_FILEPATH", &recording)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let endpoint = format!("http://127.0.0.1:{port}");
            if wait_ready(port, &mut moto) {
                let (ip, ip_url) = fake_ip_server("203.0.113.10");
                let env = Env {
                    moto,
                    endpoint,
                    dir,
                    recording,
                    ip,
                    ip_url,
                    calls_seen: Mutex::new(0),
                };
                // The readiness probe itself is recorded; start counting after it.
                env.calls();
                return env;
            }
            let _ = moto.kill();
            let _ = moto.wait();
            last_err = format!("moto did not answer on port {port}");
        }
        panic!("{last_err}");
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `stack.yaml` (and creates any folder it names with a small file in it).
    pub fn write_stack(&self, yaml: &str) {
        std::fs::write(self.path("stack.yaml"), yaml).unwrap();
    }

    pub fn write_file(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn set_public_ip(&self, ip: &str) {
        *self.ip.lock().unwrap() = ip.to_string();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        for f in ["no-aws-config", "no-aws-credentials"] {
            if !self.path(f).exists() {
                std::fs::write(self.path(f), "").unwrap();
            }
        }
        let mut c = Command::new(env!("CARGO_BIN_EXE_deploy"));
        c.current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("no-aws-credentials"),
            )
            .env("DEPLOY_PUBLIC_IP_URL", &self.ip_url)
            .env("DEPLOY_POLL_INTERVAL", "0.05")
            .env("DEPLOY_RDS_SETTLE_INTERVAL", "0.05")
            .env("DB_PASSWORD", PASSWORD)
            .stdin(Stdio::null());
        c
    }

    /// Runs `deploy ARGS` and returns its output; never panics on a failing exit.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run deploy");
        Run::from(out)
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "deploy {args:?} failed:\n--- stdout\n{}\n--- stderr\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// The AWS operations moto received since the last call to `calls`, as `Service.Operation`.
    pub fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut seen = self.calls_seen.lock().unwrap();
        let new = lines[*seen..].iter().map(|l| operation(l)).collect();
        *seen = lines.len();
        new
    }

    /// The access key id of every request moto received (from the SigV4 `Authorization` header).
    pub fn access_keys(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                let h = v["headers"].as_object()?;
                let auth = h
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?
                    .1
                    .as_str()?;
                let cred = auth.split("Credential=").nth(1)?;
                Some(cred.split('/').next()?.to_string())
            })
            .collect()
    }

    /// The bodies of every recorded request of operation `op` (`Service.Operation`), decoded.
    pub fn request_bodies(&self, op: &str) -> Vec<String> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter(|l| operation(l) == op)
            .map(body)
            .collect()
    }

    /// The write calls (anything that is not Describe/List/Get) since the last `calls`, except
    /// the run lock's (SSM), which every apply and destroy takes and releases.
    pub fn writes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| is_write(c) && !c.starts_with("ssm."))
            .collect()
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

fn wait_ready(port: u16, moto: &mut Child) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(_)) = moto.try_wait() {
            return false;
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.") && buf.contains("200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A one-thread HTTP server on loopback answering every request with the current IP.
fn fake_ip_server(initial: &str) -> (Arc<Mutex<String>>, String) {
    let ip = Arc::new(Mutex::new(initial.to_string()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let served = ip.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let body = served.lock().unwrap().clone();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (ip, url)
}

/// The body of one recorded request, decoded.
fn body(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let body = v["body"].as_str().unwrap_or("").to_string();
    if v["body_encoded"].as_bool() == Some(true) {
        use base64::Engine;
        return String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(&body)
                .unwrap_or_default(),
        )
        .to_string();
    }
    body
}

/// The operation name of one recorded request.
fn operation(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let headers = &v["headers"];
    let header = |name: &str| {
        headers
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let target = header("X-Amz-Target");
    if let Some((svc, op)) = target.split_once('.') {
        let svc = if svc.contains("Cognito") {
            "CognitoIdentityProvider"
        } else if svc == "AmazonSSM" {
            "ssm"
        } else {
            "Tagging"
        };
        return format!("{svc}.{op}");
    }
    let body = body(line);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        let auth = header("Authorization");
        let svc = ["ec2", "rds", "iam", "sts"]
            .into_iter()
            .find(|s| auth.contains(&format!("/{s}/")))
            .unwrap_or("query");
        return format!("{svc}.{action}");
    }
    let method = v["method"].as_str().unwrap_or("");
    let url = v["url"].as_str().unwrap_or("");
    format!("lambda.{method} {}", url.split('?').next().unwrap_or(url))
}

/// Lambda's REST calls are writes unless they are GETs; the others by operation name.
pub fn is_write(op: &str) -> bool {
    if let Some(rest) = op.strip_prefix("lambda.") {
        return !rest.starts_with("GET ");
    }
    let name = op.rsplit('.').next().unwrap_or("");
    !["Describe", "List", "Get"]
        .iter()
        .any(|p| name.starts_with(p))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).to_string(),
        }
    }
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    /// Fails if the test password appears anywhere in what deploy printed.
    pub fn assert_no_secret(&self) {
        assert!(
            !self.all().contains(PASSWORD),
            "the password leaked:\n{}",
            self.all()
        );
    }
}

/// moto behind the fidelity proxy (`tests/support/fidelity_proxy.py`; options in the README next
/// to it): RDS and Lambda states, IAM lag, security-group dependencies and faults, as moto alone
/// does not show them. Derefs to the [`Env`], whose endpoint is the proxy's. Every request is
/// logged (see [`Fidelity::log`]). The proxy's own reads of moto (to find what holds a security
/// group) show up in [`Env::calls`] as reads; [`Env::writes`] is unaffected.
pub struct Fidelity {
    env: Env,
    proxy: Child,
    control: String,
    log_path: PathBuf,
}

impl Env {
    /// `opts` is a JSON object of proxy options, e.g. `{"rds": true, "rds_creating_s": 1}`.
    pub fn with_fidelity(opts: serde_json::Value) -> Fidelity {
        let mut env = Env::new();
        let log_path = env.path("fidelity-log.jsonl");
        let mut opts = opts;
        opts["log"] = serde_json::Value::from(log_path.to_string_lossy().to_string());
        // Every request deploy sends through the proxy is checked against the AWS API models
        // (tests/support/conformance.py): a shape AWS would refuse fails the test, not a user.
        if opts.get("conformance").is_none() {
            opts["conformance"] = serde_json::Value::Bool(true);
        }
        let config = env.path("fidelity.json");
        std::fs::write(&config, opts.to_string()).unwrap();
        // moto's venv has what the proxy needs (it is stdlib only, but the same interpreter
        // keeps the Python version pinned).
        let python = moto_bin()
            .parent()
            .map(|d| d.join("python"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("python3"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fidelity_proxy.py");
        let stderr = std::fs::File::create(env.path("fidelity-proxy.err")).unwrap();
        let mut proxy = Command::new(&python)
            .arg(&script)
            .args(["--upstream", &env.endpoint, "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", python.display()));
        let mut url = String::new();
        let _ = BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut url);
        let url = url.trim().to_string();
        if !url.starts_with("http://127.0.0.1:") {
            let _ = proxy.kill();
            let _ = proxy.wait();
            let err = std::fs::read_to_string(env.path("fidelity-proxy.err")).unwrap_or_default();
            panic!("the fidelity proxy did not start:\n{err}");
        }
        env.endpoint = url.clone();
        Fidelity {
            env,
            proxy,
            control: url,
            log_path,
        }
    }
}

impl Fidelity {
    /// The requests the proxy has seen, one JSON object each: `service`, `operation`, `status`
    /// (null when the answer was lost), `fault`, `realism` (what the proxy showed instead of moto),
    /// `start`/`end` (epoch seconds) and `ms`.
    pub fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The dependent rounds of the calls logged from entry `from` on: a call is one round after
    /// the latest round among the calls that had ended before it started (what it may have
    /// waited for). moto's own API is not counted.
    pub fn rounds_since(&self, from: usize) -> usize {
        let calls: Vec<(f64, f64)> = self.log()[from..]
            .iter()
            .filter(|v| v["service"] != "moto-api")
            .map(|v| (v["start"].as_f64().unwrap(), v["end"].as_f64().unwrap()))
            .collect();
        let mut order: Vec<usize> = (0..calls.len()).collect();
        order.sort_by(|&a, &b| calls[a].0.total_cmp(&calls[b].0));
        let mut round = vec![0; calls.len()];
        for &i in &order {
            round[i] = 1 + order
                .iter()
                .filter(|&&j| calls[j].1 <= calls[i].0)
                .map(|&j| round[j])
                .max()
                .unwrap_or(0);
        }
        round.into_iter().max().unwrap_or(0)
    }

    /// Changes options while running (e.g. faults on only after the setup).
    pub fn configure(&self, opts: serde_json::Value) {
        self.control("/__fidelity__", opts);
    }

    /// RDS upgrading instance `id` to `version` by itself (a minor upgrade in the maintenance
    /// window): from now on the proxy reports that version.
    pub fn rds_upgrade(&self, id: &str, version: &str) {
        self.control(
            "/__fidelity__/rds-upgrade",
            serde_json::json!({"id": id, "engine_version": version}),
        );
    }

    fn control(&self, path: &str, body: serde_json::Value) {
        let addr = self.control.trim_start_matches("http://");
        let body = body.to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

impl std::ops::Deref for Fidelity {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Drop for Fidelity {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
        // A request the AWS API model forbids fails the test even when deploy took the refusal
        // in its stride (a test expecting a failed run, a retried step).
        if !std::thread::panicking() {
            let refused: Vec<String> = self
                .log()
                .iter()
                .filter_map(|r| r["realism"].as_str())
                .filter(|r| r.starts_with("conformance:"))
                .map(str::to_string)
                .collect();
            assert!(
                refused.is_empty(),
                "deploy sent requests the AWS API models forbid (tests/support/conformance.py):\n{}",
                refused.join("\n")
            );
        }
    }
}

/// The repository's root: the shipped files (schema, examples, workflows) tests read.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in the repository's root with no emulator: for what needs no AWS (help,
/// schema, validate of the shipped files, usage errors).
pub fn deploy_here(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(root())
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run deploy")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One group with one open rule: the smallest stack that plans a change.
pub const SG_ONLY: &str = r#"
stack: basics
security_groups:
  web-sg:
    description: web
    ingress:
      - description: HTTPS
        port: 443
        cidr: 0.0.0.0/0
"#;

/// Two groups, one rule naming the other as its source, in a fixed region.
pub const SG_STACK: &str = r#"
stack: regions
region: us-east-1
security_groups:
  a:
    description: a
  b:
    description: b
    ingress:
      - description: FROMA
        port: 80
        source_group: a
"#;
