//! End-to-end speed of `deploy` against moto behind the fidelity proxy of the test support
//! (`tests/support/fidelity_proxy.py`), which adds a round trip to every call and logs each one.
//!
//! Prints, for a no-change plan of the Cruddur-like stack (examples/local/stack.yaml, with its
//! 12 MB layer folder) and of a generated 220-resource stack (in a fresh account): wall time (ms and in RTTs), AWS
//! calls, dependent rounds of calls (from the proxy's log: a call is one round after the latest
//! call that ended before it started), CPU and peak memory, as min/median/max over the runs; for
//! apply of the Cruddur-like stack with RDS realism (the instance `creating` then `backing-up`,
//! T seconds in all): the ratio of the apply's wall time to T; and the seed-style comparison,
//! the same reads as 8 sequential AWS CLI calls through the same proxy; the dependent rounds of
//! calls up to CreateDBInstance in that apply; deploy's own time (the plan's wall time with no
//! call in flight at the proxy); and the throttled apply of `scripts/bench-throttle.sh` (30
//! groups x 6 rules under a 20-token, 5-a-second EC2 bucket: writes, time, the bucket's floor).
//!
//! Run (release, after `cargo build --release`; needs the venv and the layer folder, `make venv
//! layer`, and `/usr/bin/time`):
//!
//! ```text
//! cargo run --release --example plan_bench_live -- [--runs 7] [--rtt-ms 50] [--rds-s 20]
//! ```
//!
//! `DEPLOY_BIN` overrides the deploy binary (default: the one next to this example's folder).
//! `MOTO_SERVER_BIN` points at moto_server (default `.venv/bin/moto_server`); its folder's
//! `python` runs the proxy. The aws CLI is used when on PATH; otherwise the seed-style calls are
//! made with boto3 from the venv, one process each, and the output says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Opts {
    runs: usize,
    rtt_ms: u64,
    rds_s: f64,
}

fn opts() -> Opts {
    let mut o = Opts {
        runs: 7,
        rtt_ms: 50,
        rds_s: 20.0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => o.runs = v.parse().expect("--runs N"),
            "--rtt-ms" => o.rtt_ms = v.parse().expect("--rtt-ms MS"),
            "--rds-s" => o.rds_s = v.parse().expect("--rds-s SECONDS"),
            other => panic!("unknown option {other}: --runs N --rtt-ms MS --rds-s SECONDS"),
        }
        i += 2;
    }
    o
}

/// Background processes, killed (by their own pid) when the benchmark ends.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP/1.1 request on loopback; the body of the answer.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map_or(out.clone(), |(_, b)| b.to_string()))
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Env {
    _procs: Procs,
    moto: String,
    proxy_port: u16,
    proxy: String,
    ip: String,
    log: PathBuf,
    dir: PathBuf,
    deploy: PathBuf,
    python: PathBuf,
}

fn start() -> Env {
    let moto_bin = std::env::var_os("MOTO_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/moto_server"));
    let python = moto_bin.with_file_name("python");
    let exe = std::env::current_exe().expect("own path");
    // target/<profile>/examples/plan_bench_live -> target/<profile>/deploy, unless DEPLOY_BIN.
    let deploy = std::env::var_os("DEPLOY_BIN").map_or_else(
        || {
            exe.parent()
                .and_then(Path::parent)
                .expect("target dir")
                .join("deploy")
        },
        PathBuf::from,
    );
    assert!(
        deploy.exists(),
        "{} is missing: cargo build --release first",
        deploy.display()
    );
    let dir = std::env::temp_dir().join(format!("deploy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut procs = Procs(Vec::new());

    let moto_port = free_port();
    procs.0.push(
        Command::new(&moto_bin)
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("moto.log")).unwrap())
            .spawn()
            .expect("start moto_server (set MOTO_SERVER_BIN)"),
    );
    wait_until("moto", || {
        http(moto_port, "GET", "/moto-api/", "").is_ok_and(|b| b.contains("moto"))
    });

    let ip_file = dir.join("ip.port");
    procs.0.push(
        Command::new(&python)
            .arg(root().join("scripts/fake-public-ip.py"))
            .arg(&ip_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fake public-IP server"),
    );
    wait_until("the fake public-IP server", || {
        std::fs::read_to_string(&ip_file).is_ok_and(|s| s.ends_with('\n'))
    });
    let ip_port = std::fs::read_to_string(&ip_file)
        .unwrap()
        .trim()
        .to_string();

    let log = dir.join("requests.jsonl");
    let mut proxy = Command::new(&python)
        .arg(root().join("tests/support/fidelity_proxy.py"))
        .args(["--upstream", &format!("http://127.0.0.1:{moto_port}")])
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("proxy.err")).unwrap())
        .spawn()
        .expect("start the fidelity proxy");
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    procs.0.push(proxy);
    let proxy = line.trim().to_string();
    let proxy_port: u16 = proxy
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .expect("proxy URL");
    Env {
        _procs: procs,
        moto: format!("http://127.0.0.1:{moto_port}"),
        proxy_port,
        proxy,
        ip: format!("http://127.0.0.1:{ip_port}/"),
        log,
        dir,
        deploy,
        python,
    }
}

impl Env {
    fn configure(&self, json: &str) {
        http(self.proxy_port, "POST", "/__fidelity__", json).expect("configure the proxy");
    }

    fn command(&self, program: &Path, endpoint: &str) -> Command {
        let mut c = Command::new(program);
        for v in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "RUST_LOG",
        ] {
            c.env_remove(v);
        }
        c.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("DEPLOY_PUBLIC_IP_URL", &self.ip)
            .env("DB_PASSWORD", "bench-password-1234")
            .env("DEPLOY_POLL_INTERVAL", "0.25")
            .stdin(Stdio::null());
        c
    }

    /// `deploy -f STACK ARGS` under /usr/bin/time: (wall, cpu s, peak RSS MiB).
    fn deploy(&self, endpoint: &str, stack: &Path, args: &[&str]) -> (Duration, f64, f64) {
        let (wall, cpu, rss, _) = self.deploy_timed(endpoint, stack, args);
        (wall, cpu, rss)
    }

    /// [`Env::deploy`], and the run's (start, end) in epoch seconds, as the proxy logs calls.
    fn deploy_timed(
        &self,
        endpoint: &str,
        stack: &Path,
        args: &[&str],
    ) -> (Duration, f64, f64, (f64, f64)) {
        let time_out = self.dir.join("time.out");
        let mut c = self.command(Path::new("/usr/bin/time"), endpoint);
        c.arg("-o")
            .arg(&time_out)
            .args(["-f", "%U %S %M"])
            .arg(&self.deploy)
            .arg("-f")
            .arg(stack)
            .args(args);
        let epoch = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let (t0, start) = (epoch(), Instant::now());
        let out = c.output().expect("run deploy under /usr/bin/time");
        let wall = start.elapsed();
        let t1 = t0 + wall.as_secs_f64();
        // `plan --detailed-exitcode` exits 2 for changes: on moto the Cruddur pool always shows
        // one (moto's UpdateUserPool drops UsernameAttributes), with the same reads.
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "deploy {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let t = std::fs::read_to_string(&time_out).unwrap();
        let f: Vec<f64> = t
            .lines()
            .last()
            .unwrap()
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        (wall, f[0] + f[1], f[2] / 1024.0, (t0, t1))
    }

    fn calls(&self) -> Vec<Call> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["service"] != "moto-api")
            .map(|v| Call {
                op: v["operation"].as_str().unwrap_or("?").to_string(),
                start: v["start"].as_f64().unwrap(),
                end: v["end"].as_f64().unwrap(),
            })
            .collect()
    }

    fn clear_log(&self) {
        let _ = std::fs::write(&self.log, "");
    }
}

struct Call {
    op: String,
    start: f64,
    end: f64,
}

/// Each call's round: one more than the latest round among the calls that had ended before it
/// started (what it may have waited for). Returns the rounds, by call.
fn rounds(calls: &[Call]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by(|&a, &b| calls[a].start.total_cmp(&calls[b].start));
    let mut round = vec![0; calls.len()];
    for &i in &order {
        round[i] = 1 + order
            .iter()
            .filter(|&&j| calls[j].end <= calls[i].start)
            .map(|&j| round[j])
            .max()
            .unwrap_or(0);
    }
    round
}

fn describe_rounds(calls: &[Call]) -> String {
    let r = rounds(calls);
    let mut by: BTreeMap<usize, BTreeMap<&str, usize>> = BTreeMap::new();
    for (c, n) in calls.iter().zip(&r) {
        *by.entry(*n).or_default().entry(&c.op).or_default() += 1;
    }
    let mut s = String::new();
    for (n, ops) in by {
        let list: Vec<String> = ops
            .iter()
            .map(|(op, k)| {
                if *k > 1 {
                    format!("{op} x{k}")
                } else {
                    op.to_string()
                }
            })
            .collect();
        let _ = writeln!(s, "    round {n}: {}", list.join(", "));
    }
    s
}

/// The time in `run` (start, end; epoch s) with no call in flight at the proxy: deploy's own
/// time (process start and exit, loading, planning, rendering, and any gap between rounds).
fn own_time(run: (f64, f64), calls: &[Call]) -> f64 {
    let mut spans: Vec<(f64, f64)> = calls
        .iter()
        .map(|c| (c.start.max(run.0), c.end.min(run.1)))
        .filter(|(a, b)| b > a)
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut busy = 0.0;
    let mut cur: Option<(f64, f64)> = None;
    for (a, b) in spans {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                busy += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((ca, cb)) = cur {
        busy += cb - ca;
    }
    (run.1 - run.0) - busy
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn show(label: &str, unit: &str, v: Vec<f64>, digits: usize) {
    let (min, med, max) = stats(v);
    println!("  {label:<22} {min:>9.digits$} {med:>9.digits$} {max:>9.digits$}  {unit}");
}

/// A no-change plan, `runs` times through the proxy at `rtt_ms`.
fn bench_plan(env: &Env, o: &Opts, stack: &Path, name: &str) -> f64 {
    env.configure(&format!(r#"{{"latency_ms": {}, "rds": false}}"#, o.rtt_ms));
    let (mut walls, mut cpus, mut rss, mut calls, mut nrounds, mut owns) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut detail = String::new();
    for i in 0..o.runs {
        env.clear_log();
        let (wall, cpu, mib, run) =
            env.deploy_timed(&env.proxy, stack, &["plan", "--detailed-exitcode"]);
        let log = env.calls();
        owns.push(own_time(run, &log) * 1000.0);
        walls.push(wall.as_secs_f64() * 1000.0);
        cpus.push(cpu * 1000.0);
        rss.push(mib);
        calls.push(log.len() as f64);
        nrounds.push(rounds(&log).into_iter().max().unwrap_or(0) as f64);
        if i == 0 {
            detail = describe_rounds(&log);
        }
    }
    let rtt = o.rtt_ms as f64;
    println!("\n{name}: no-change plan, {} runs, RTT {rtt} ms", o.runs);
    println!("  {:<22} {:>9} {:>9} {:>9}", "", "min", "median", "max");
    show("wall", "ms", walls.clone(), 0);
    show(
        "wall / RTT",
        "RTTs",
        walls.iter().map(|w| w / rtt).collect(),
        2,
    );
    show("AWS calls", "", calls, 0);
    show("dependent rounds", "", nrounds, 0);
    show("own time (no call)", "ms", owns, 0);
    show("CPU (user+sys)", "ms", cpus, 0);
    show("peak RSS", "MiB", rss, 1);
    print!("  calls by round (first run):\n{detail}");
    stats(walls).1
}

/// A stack of `groups` groups with `rules` CIDR rules each, and `functions` functions with
/// `auto` roles (groups x (rules + 1) + 2 x functions resources).
fn big_stack(dir: &Path, groups: usize, rules: usize, functions: usize) -> PathBuf {
    let mut s = String::from("stack: bench-big\nregion: us-east-1\nsecurity_groups:\n");
    for g in 0..groups {
        let _ = write!(s, "  big-{g}:\n    description: group {g}\n    ingress:\n");
        for r in 0..rules {
            let _ = write!(
                s,
                "      - description: R{r}\n        port: {}\n        cidr: 10.{g}.{r}.0/24\n",
                1000 + r
            );
        }
    }
    if functions > 0 {
        let src = dir.join("fn");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("lambda_function.py"),
            "def lambda_handler(event, context):\n    return event\n",
        )
        .unwrap();
        s.push_str("functions:\n");
    }
    for f in 0..functions {
        let _ = write!(
            s,
            "  bench-fn-{f}:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n    role: auto\n"
        );
    }
    let path = dir.join("big.yaml");
    std::fs::write(&path, s).unwrap();
    path
}

/// The reads a seed-style script makes, one CLI process after another.
const SEED_CALLS: [&[&str]; 8] = [
    &[
        "ec2",
        "describe-vpcs",
        "--filters",
        "Name=is-default,Values=true",
    ],
    &[
        "ec2",
        "describe-subnets",
        "--filters",
        "Name=default-for-az,Values=true",
    ],
    &[
        "ec2",
        "describe-security-groups",
        "--filters",
        "Name=tag:deploy:stack,Values=cruddur-local",
    ],
    &["ec2", "describe-security-group-rules"],
    &["rds", "describe-db-instances"],
    &[
        "lambda",
        "get-function",
        "--function-name",
        "cruddur-post-confirmation",
    ],
    &["cognito-idp", "list-user-pools", "--max-results", "60"],
    &[
        "lambda",
        "get-policy",
        "--function-name",
        "cruddur-post-confirmation",
    ],
];

fn bench_seed(env: &Env, o: &Opts) -> f64 {
    let aws_cli = Command::new("aws")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let how = if aws_cli {
        "the aws CLI"
    } else {
        "no aws CLI on PATH: boto3 from the venv, one python process per call"
    };
    let mut walls = Vec::new();
    for _ in 0..o.runs.min(3) {
        let start = Instant::now();
        for call in SEED_CALLS {
            let mut c = if aws_cli {
                let mut c = env.command(Path::new("aws"), &env.proxy);
                c.args(["--endpoint-url", &env.proxy]).args(call);
                c
            } else {
                let mut c = env.command(&env.python, &env.proxy);
                let service = call[0];
                let op = call[1].replace('-', "_");
                c.args([
                    "-c",
                    &format!(
                        "import boto3,os;c=boto3.client('{service}',endpoint_url=os.environ['AWS_ENDPOINT_URL']);\ntry: c.{op}()\nexcept Exception: pass"
                    ),
                ]);
                c
            };
            // Errors (a missing policy) count like answers: the call was made.
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "\nseed-style reads: 8 sequential calls ({how}), {} runs",
        walls.len()
    );
    show("wall", "ms", walls.clone(), 0);
    stats(walls).1
}

fn bench_apply(env: &Env, o: &Opts, stack: &Path) {
    let t = o.rds_s;
    let creating = t * 0.75;
    env.configure(&format!(
        r#"{{"latency_ms": {}, "rds": true, "rds_creating_s": {creating}, "rds_backing_up_s": {}, "rds_deleting_s": 1}}"#,
        o.rtt_ms,
        t - creating
    ));
    env.clear_log();
    let (wall, _, _) = env.deploy(&env.proxy, stack, &["apply", "--auto-approve"]);
    let w = wall.as_secs_f64();
    let log = env.calls();
    let t0 = log.iter().map(|c| c.start).fold(f64::MAX, f64::min);
    let first = |op: &str| {
        log.iter()
            .filter(|c| c.op == op)
            .map(|c| c.start - t0)
            .fold(f64::NAN, f64::min)
    };
    let last_end = log.iter().map(|c| c.end - t0).fold(0.0, f64::max);
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for c in &log {
            println!("    {:>7.2} {:>7.2}  {}", c.start - t0, c.end - t0, c.op);
        }
    }
    println!(
        "\napply of the Cruddur-like stack, RDS realism: instance creating {creating:.1} s + backing-up {:.1} s = T {t:.1} s, RTT {} ms",
        t - creating,
        o.rtt_ms
    );
    println!("  wall {w:.2} s = {:.3} x T", w / t);
    // The dependent rounds up to and including CreateDBInstance: the lock, the reads, the group.
    let r = rounds(&log);
    let before = log
        .iter()
        .zip(&r)
        .filter(|(c, _)| c.op == "CreateDBInstance")
        .map(|(_, n)| *n)
        .min()
        .unwrap_or(0);
    let mut path: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (c, n) in log.iter().zip(&r) {
        if *n <= before {
            path.entry(*n).or_default().push(&c.op);
        }
    }
    println!("  dependent rounds to CreateDBInstance: {before}");
    for (n, ops) in path {
        let mut ops = ops;
        ops.sort_unstable();
        ops.dedup();
        println!("    round {n}: {}", ops.join(", "));
    }
    println!(
        "  from the first call: CreateDBInstance at {:.2} s, CreateFunction at {:.2} s, last call ended at {:.2} s",
        first("CreateDBInstance"),
        first("CreateFunction"),
        last_end
    );
}

fn main() {
    let o = opts();
    let env = start();
    let cruddur = root().join("examples/local/stack.yaml");
    assert!(
        root().join("build/layers/psycopg2").is_dir(),
        "the layer folder build/layers/psycopg2 is missing: make layer"
    );
    println!(
        "deploy {} against moto behind the fidelity proxy (moto {}, proxy {}), 2 dependent rounds = {} ms of RTT",
        env.deploy.display(),
        env.moto,
        env.proxy,
        2 * o.rtt_ms
    );

    // moto imports each service's code on its first call (and loads IAM's managed policies,
    // about a second): a plan of the empty account first, so that the apply does not count it.
    env.deploy(&env.moto, &cruddur, &["plan"]);
    // Apply, through the proxy with RDS realism: the instance is created as AWS does.
    bench_apply(&env, &o, &cruddur);
    let plan_ms = bench_plan(
        &env,
        &o,
        &cruddur,
        "Cruddur-like stack (examples/local, 12 MB layer)",
    );
    let seed_ms = bench_seed(&env, &o);
    println!(
        "  deploy's median plan is {:.1}x faster than the seed-style reads",
        seed_ms / plan_ms
    );

    // A fresh account: a plan describes every user pool of the account to find the ones it
    // owns (Cognito shows ownership tags only there), so the Cruddur pool left in the first one
    // would add a second round of DescribeUserPool to a stack of groups and rules.
    let _ = std::fs::remove_dir_all(&env.dir);
    drop(env);
    let env = start();
    let big = big_stack(&env.dir, 20, 9, 10);
    env.deploy(&env.moto, &big, &["plan"]);
    env.configure(r#"{"latency_ms": 0, "rds": false}"#);
    env.deploy(&env.moto, &big, &["apply", "--auto-approve"]);
    bench_plan(
        &env,
        &o,
        &big,
        "220-resource stack (20 groups x 9 rules, 10 functions with auto roles)",
    );
    let deploy = env.deploy.clone();
    let _ = std::fs::remove_dir_all(&env.dir);
    drop(env);
    bench_throttled(&deploy);
}

/// The throttled apply: 30 groups x 6 rules under a 20-token, 5-a-second EC2 bucket, by
/// `scripts/bench-throttle.sh` (its own moto and proxy).
fn bench_throttled(deploy: &Path) {
    println!("\nthrottled apply (scripts/bench-throttle.sh):");
    let out = Command::new("bash")
        .arg(root().join("scripts/bench-throttle.sh"))
        .arg(deploy)
        .output()
        .expect("run scripts/bench-throttle.sh");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
    assert!(
        out.status.success(),
        "bench-throttle.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
