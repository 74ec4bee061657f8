//! `npm run bench:native`: every kernel beside the best native code for the same job, on the
//! same data, in one process, on one rayon pool. Prints medians, the cores each side actually
//! got (process CPU time over wall time) and the ratio offload / best (under 1.0: offload wins).
//!
//! `cargo run --release -- [filter]` runs only the rows whose name contains `filter`.

use std::hint::black_box;
use std::time::Instant;

use fast_image_resize as fir;
use offload::cancel::Cancel;
use rayon::prelude::*;

/// Process CPU time (user + system) in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[derive(Clone, Copy)]
struct Sample {
    ms: f64,
    cores: f64,
}

/// The sample of a contender that could not run (its peer is not installed).
const NOT_RUN: Sample = Sample {
    ms: f64::NAN,
    cores: f64::NAN,
};

/// One timed run of `run` on fresh input from `setup` (not timed), and the cores it used.
fn timed<S>(mut setup: impl FnMut() -> S, mut run: impl FnMut(S)) -> impl FnMut() -> Sample {
    move || {
        let input = setup();
        let (c0, t0) = (cpu_seconds(), Instant::now());
        run(input);
        let wall = t0.elapsed().as_secs_f64();
        Sample {
            ms: wall * 1e3,
            cores: (cpu_seconds() - c0) / wall,
        }
    }
}

/// The median run (by wall time) of `runs` rounds in which every contender runs once, in an
/// order that rotates from round to round. The machine is shared: its slow and fast spells
/// last seconds, so contenders measured one block after another can see different machines,
/// and the ratio of their medians moves with that (sort 10M int32 against the radix crates
/// read 1.00x to 1.52x in four runs in a row). Taken in turns, they see the same spells.
fn side_by_side<const N: usize>(
    runs: usize,
    contenders: [&mut dyn FnMut() -> Sample; N],
) -> [Sample; N] {
    let mut samples: [Vec<Sample>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for round in 0..runs {
        for i in 0..N {
            let j = (i + round) % N;
            samples[j].push(contenders[j]());
        }
    }
    samples.map(|mut s| {
        s.sort_by(|a, b| a.ms.total_cmp(&b.ms));
        s[runs / 2]
    })
}

/// Median of `runs` runs of `run` on fresh input from `setup` (not timed), one after another
/// (for rows that are about order, and for a side compared with another process).
fn measure<S>(runs: usize, setup: impl FnMut() -> S, run: impl FnMut(S)) -> Sample {
    let [sample] = side_by_side(runs, [&mut timed(setup, run)]);
    sample
}

struct Row {
    work: String,
    ours: Sample,
    best: Sample,
    best_name: String,
    others: Vec<(String, Sample)>,
}

fn print_row(row: &Row) {
    let others: Vec<String> = row
        .others
        .iter()
        .map(|(name, s)| format!("{name} {:.1} ms", s.ms))
        .collect();
    println!(
        "| {} | {:.1} ms ({:.1} cores) | {} {:.1} ms ({:.1} cores) | {:.2}x | {} |",
        row.work,
        row.ours.ms,
        row.ours.cores,
        row.best_name,
        row.best.ms,
        row.best.cores,
        row.ours.ms / row.best.ms,
        if others.is_empty() {
            "".to_string()
        } else {
            others.join("; ")
        },
    );
}

/// The fastest of several peers becomes the yardstick; the rest are shown beside it.
fn row(work: &str, ours: Sample, peers: Vec<(&str, Sample)>) -> Row {
    let mut peers: Vec<(String, Sample)> =
        peers.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
    peers.sort_by(|a, b| a.1.ms.total_cmp(&b.1.ms));
    let (best_name, best) = peers.remove(0);
    Row {
        work: work.to_string(),
        ours,
        best,
        best_name,
        others: peers,
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `len` pseudo-random bytes (pixels, hash input).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..len).map(|_| (rng.next() >> 56) as u8).collect()
}

fn rgba(pixels: &[u8], width: usize, height: usize) -> offload::image::ImageView<'_> {
    offload::image::ImageView {
        data: pixels,
        width,
        height,
        channels: 4,
    }
}

fn float_data(n: usize, shape: &str) -> Vec<f64> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut v: Vec<f64> = match shape {
        "few-distinct" => (0..n).map(|_| (rng.next() % 16) as f64).collect(),
        // many small values, a long tail of large ones
        "skewed" => (0..n).map(|_| rng.unit().powi(8) * 1e6).collect(),
        _ => (0..n).map(|_| rng.unit() * 2e6 - 1e6).collect(),
    };
    if shape == "sorted" {
        v.sort_by(f64::total_cmp);
    }
    v
}

fn int_data(n: usize, shape: &str) -> Vec<i32> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut v: Vec<i32> = match shape {
        "few-distinct" => (0..n).map(|_| (rng.next() % 16) as i32).collect(),
        "skewed" => (0..n).map(|_| (rng.unit().powi(8) * 1e9) as i32).collect(),
        _ => (0..n).map(|_| rng.next() as i32).collect(),
    };
    if shape == "sorted" {
        v.sort_unstable();
    }
    v
}

fn sort_rows(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    use rdst::RadixSort as _;
    use voracious_radix_sort::RadixSort as _;
    let n = 10_000_000;
    for shape in ["uniform", "sorted", "few-distinct", "skewed"] {
        let name = format!("sort 10M float64, {shape}");
        if wanted(&name) {
            let data = float_data(n, shape);
            let c = Cancel::new();
            let [ours, voracious, rdst, std_par] = side_by_side(
                runs,
                [
                    &mut timed(
                        || data.clone(),
                        |mut v| offload::data::sort::sort(&mut v, false, &c).unwrap(),
                    ),
                    &mut timed(|| data.clone(), |mut v| v.voracious_mt_sort(threads)),
                    &mut timed(|| data.clone(), |mut v| v.radix_sort_unstable()),
                    &mut timed(
                        || data.clone(),
                        |mut v| v.par_sort_unstable_by(f64::total_cmp),
                    ),
                ],
            );
            print_row(&row(
                &name,
                ours,
                vec![
                    ("voracious_mt_sort", voracious),
                    ("rdst", rdst),
                    ("par_sort_unstable", std_par),
                ],
            ));
        }
        let name = format!("sort 10M int32, {shape}");
        if wanted(&name) {
            let data = int_data(n, shape);
            let c = Cancel::new();
            let [ours, voracious, rdst, std_par] = side_by_side(
                runs,
                [
                    &mut timed(
                        || data.clone(),
                        |mut v| offload::data::sort::sort(&mut v, false, &c).unwrap(),
                    ),
                    &mut timed(|| data.clone(), |mut v| v.voracious_mt_sort(threads)),
                    &mut timed(|| data.clone(), |mut v| v.radix_sort_unstable()),
                    &mut timed(|| data.clone(), |mut v| v.par_sort_unstable()),
                ],
            );
            print_row(&row(
                &name,
                ours,
                vec![
                    ("voracious_mt_sort", voracious),
                    ("rdst", rdst),
                    ("par_sort_unstable", std_par),
                ],
            ));
        }
    }
    for shape in ["uniform", "few-distinct"] {
        let name = format!("argsort 10M float64, {shape}");
        if !wanted(&name) {
            continue;
        }
        // The peers sort (key, index) pairs, the usual way to get a stable argsort natively.
        let data = float_data(n, shape);
        let pairs = || -> Vec<(u64, u32)> {
            data.iter()
                .enumerate()
                .map(|(i, x)| {
                    let b = x.to_bits();
                    let key = if b >> 63 == 1 { !b } else { b | (1 << 63) };
                    (key, i as u32)
                })
                .collect()
        };
        let c = Cancel::new();
        let [ours, rdst, std_par] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(offload::data::sort::argsort(&data, false, &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut p: Vec<u64> = pairs().into_iter().map(|(k, _)| k).collect();
                        p.radix_sort_unstable();
                        black_box(p);
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut p = pairs();
                        p.par_sort_by_key(|x| x.0);
                        black_box(p.into_iter().map(|x| x.1).collect::<Vec<u32>>());
                    },
                ),
            ],
        );
        print_row(&row(
            &name,
            ours,
            vec![
                ("rdst on the keys alone (no indices)", rdst),
                ("par_sort_by_key of pairs", std_par),
            ],
        ));
    }
}

/// 16 independent lanes of sum, sum of squares, min and max: the plain loop at memory speed.
fn plain_describe(values: &[f64]) -> (f64, f64, f64, f64) {
    values
        .par_chunks(1 << 16)
        .map(|c| {
            let mut s = [0f64; 16];
            let mut q = [0f64; 16];
            let mut lo = [f64::INFINITY; 16];
            let mut hi = [f64::NEG_INFINITY; 16];
            let mut groups = c.chunks_exact(16);
            for g in &mut groups {
                for l in 0..16 {
                    let x = g[l];
                    s[l] += x;
                    q[l] += x * x;
                    lo[l] = if x < lo[l] { x } else { lo[l] };
                    hi[l] = if x > hi[l] { x } else { hi[l] };
                }
            }
            for &x in groups.remainder() {
                s[0] += x;
                q[0] += x * x;
                lo[0] = lo[0].min(x);
                hi[0] = hi[0].max(x);
            }
            (
                s.iter().sum::<f64>(),
                q.iter().sum::<f64>(),
                lo.iter().copied().fold(f64::INFINITY, f64::min),
                hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        })
        .reduce(
            || (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2.min(b.2), a.3.max(b.3)),
        )
}

/// Four interleaved sub-histograms per 1M-element task.
fn plain_histogram(values: &[f64], bins: usize, lo: f64, hi: f64) -> Vec<u64> {
    let scale = bins as f64 / (hi - lo);
    values
        .par_chunks(1 << 20)
        .map(|c| {
            let mut h = vec![0u32; 4 * bins];
            for (i, &x) in c.iter().enumerate() {
                if x >= lo && x <= hi {
                    let b = (((x - lo) * scale) as usize).min(bins - 1);
                    h[(i & 3) * bins + b] += 1;
                }
            }
            let mut out = vec![0u64; bins];
            for part in h.chunks_exact(bins) {
                out.iter_mut().zip(part).for_each(|(o, c)| *o += *c as u64);
            }
            out
        })
        .reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn stats_rows(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    let names = [
        "describe 100M float64",
        "histogram 100M float64, 256 bins, range given",
        "histogram 100M float64, 256 bins, no range",
        "quantiles 100M float64, p50 and p99",
    ];
    if !names.iter().any(|n| wanted(n)) {
        return;
    }
    let data = float_data(100_000_000, "uniform");
    let c = Cancel::new();
    if wanted(names[0]) {
        let [ours, plain] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(offload::data::describe::describe(&data, 0.0, &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        black_box(plain_describe(&data));
                    },
                ),
            ],
        );
        print_row(&row(names[0], ours, vec![("plain rayon, 16 lanes", plain)]));
    }
    for (name, range) in [
        (names[1], Some((-1e6, 1e6))),
        (names[2], None::<(f64, f64)>),
    ] {
        if !wanted(name) {
            continue;
        }
        let [ours, plain] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(
                            offload::data::histogram::histogram(&data, 256, range, &c).unwrap(),
                        );
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let (lo, hi) = range.unwrap_or_else(|| {
                            let (_, _, lo, hi) = plain_describe(&data);
                            (lo, hi)
                        });
                        black_box(plain_histogram(&data, 256, lo, hi));
                    },
                ),
            ],
        );
        print_row(&row(
            name,
            ours,
            vec![("plain rayon, 4 sub-histograms", plain)],
        ));
    }
    if wanted(names[3]) {
        // select_nth_unstable on a scratch copy (made outside the timing).
        let [ours, plain] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(
                            offload::data::quantiles::quantiles(&data, &[0.5, 0.99], &c).unwrap(),
                        );
                    },
                ),
                &mut timed(
                    || data.clone(),
                    |mut v| {
                        let n = v.len();
                        let (lower, _, _) = v.select_nth_unstable_by((n - 1) / 2, f64::total_cmp);
                        black_box(lower.len());
                        let k = ((n - 1) as f64 * 0.99) as usize;
                        black_box(*v.select_nth_unstable_by(k, f64::total_cmp).1);
                    },
                ),
            ],
        );
        print_row(&row(names[3], ours, vec![("select_nth_unstable", plain)]));
    }
}

/// A hash row: its name, offload's algorithm, the peer's name and the peer's call.
type HashPeer<'a> = (
    &'a str,
    offload::hash::kernel::Algorithm,
    &'a str,
    &'a dyn Fn(&[u8]),
);

/// The bench venv's Python, whose numpy links OpenBLAS: `npm run bench -- csv` makes the venv
/// (with pyarrow, pandas, polars and duckdb); made here with numpy when it is not there, so a
/// fresh clone's first run has its numpy rows too. `None`, said once, when it cannot be made.
fn venv_python() -> Option<std::path::PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let venv = root.join("node_modules/.cache/offload-bench-venv");
            let python = venv.join("bin/python");
            let has_numpy = || {
                std::process::Command::new(&python)
                    .args(["-c", "import numpy"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            if has_numpy() {
                return Some(python);
            }
            eprintln!("(making node_modules/.cache/offload-bench-venv, a Python venv with numpy, once)");
            let quiet = |program: &std::path::Path, args: &[&str]| {
                std::process::Command::new(program)
                    .args(args)
                    .stdout(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            let made = quiet(std::path::Path::new("python3"), &["-m", "venv", venv.to_str()?])
                && quiet(&python, &["-m", "pip", "install", "-q", "numpy"]);
            if made && has_numpy() {
                Some(python)
            } else {
                eprintln!("(no numpy: python3 -m venv or pip install numpy failed; the numpy rows are left out)");
                None
            }
        })
        .clone()
}

/// Runs a peer in another process that prints its own median time in ms as its last line.
fn external(program: &std::path::Path, args: &[String]) -> Option<Sample> {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "{} {:?} failed: {}",
            program.display(),
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let ms = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()?;
    Some(Sample {
        ms,
        cores: f64::NAN, // another process: its CPU time is not ours to read
    })
}

/// Median wall time of `runs` runs of a command line (its start-up included; its CPU time is
/// another process's, not ours to read); `check` looks at each run's output, and without it
/// the output goes to /dev/null unread.
fn time_command(
    runs: usize,
    program: &str,
    args: &[String],
    check: Option<&dyn Fn(&std::process::Output)>,
) -> Sample {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            let mut command = std::process::Command::new(program);
            command.args(args).stderr(std::process::Stdio::inherit());
            if check.is_none() {
                command.stdout(std::process::Stdio::null());
            }
            let out = command
                .output()
                .unwrap_or_else(|e| panic!("{program} runs: {e}"));
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            assert!(out.status.success(), "{program} {args:?} failed");
            if let Some(check) = check {
                check(&out);
            }
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Sample {
        ms: times[runs / 2],
        cores: f64::NAN,
    }
}

fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A peer in another process that runs its job once for every line it reads and answers with
/// its time in ms (numpy_peers.py's `serve`), so that it takes turns with offload in
/// [`side_by_side`] as the peers in this process do.
struct Served {
    child: std::process::Child,
    answers: std::io::BufReader<std::process::ChildStdout>,
}

impl Served {
    /// Starts `program args` (with `env` added) and waits for its `ready` (its set-up and warm-up are over).
    fn start(program: &std::path::Path, args: &[String], env: &[(&str, &str)]) -> Option<Served> {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut answers = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        if answers.read_line(&mut line).ok()? == 0 || line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Served { child, answers })
    }

    /// One run of the job, timed by the peer.
    fn run(&mut self) -> Sample {
        use std::io::{BufRead as _, Write as _};
        let stdin = self.child.stdin.as_mut().expect("the peer's stdin is open");
        stdin.write_all(b"run\n").expect("the peer reads");
        let mut line = String::new();
        self.answers.read_line(&mut line).expect("the peer answers");
        let ms = line
            .trim()
            .parse()
            .expect("the peer answers with its time in ms");
        Sample {
            ms,
            cores: f64::NAN, // another process: its CPU time is not ours to read
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // end of input: the peer exits
        let _ = self.child.wait();
    }
}

/// numpy_peers.py serving `job` (its runs argument is `serve`), when the bench venv has numpy.
fn numpy(job: &[String]) -> Option<Served> {
    let python = venv_python()?;
    let mut args = vec!["numpy_peers.py".to_string()];
    args.extend_from_slice(job);
    // OpenBLAS's threads spin for about 0.1 s after a job before they sleep (2^28 cycles),
    // which took a core from whichever contender ran next; 2^4 cycles makes them sleep at once,
    // as offload's threads do. Waiting 0.1 s instead let the host give the idle vCPUs away,
    // and the next contender ran on one core.
    Served::start(&python, &args, &[("OPENBLAS_THREAD_TIMEOUT", "4")])
}

fn faer_product<T: offload::algo::matmul::Scalar>(a: &[T], b: &[T], m: usize, k: usize, n: usize) {
    let mut out = vec![T::ONE; m * n];
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(&mut out, m, n),
        faer::Accum::Replace,
        faer::MatRef::from_row_major_slice(a, m, k),
        faer::MatRef::from_row_major_slice(b, k, n),
        T::ONE,
        faer::Par::rayon(0),
    );
    black_box(out);
}

fn matmul_rows(wanted: &dyn Fn(&str) -> bool) {
    fn one<T: offload::algo::matmul::Scalar>(
        (m, k, n): (usize, usize, usize),
        dtype: &str,
        wanted: &dyn Fn(&str) -> bool,
        from: impl Fn(f64) -> T,
    ) {
        let name = if m == k && k == n {
            format!("matmul {m} x {m} {dtype}")
        } else {
            format!("matmul {m} x {k} times {k} x {n} {dtype}")
        };
        if !wanted(&name) {
            return;
        }
        let flops = 2.0 * (m * k * n) as f64;
        let runs = if flops > 4e10 { 3 } else { 7 };
        let mut rng = Rng(7);
        let a: Vec<T> = (0..m * k).map(|_| from(rng.unit())).collect();
        let b: Vec<T> = (0..k * n).map(|_| from(rng.unit())).collect();
        let c = Cancel::new();
        let job = [
            "matmul",
            &m.to_string(),
            &k.to_string(),
            &n.to_string(),
            dtype,
            "serve",
        ];
        let mut numpy = numpy(&job.map(String::from));
        let [ours, faer_direct, numpy_sample] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(offload::algo::matmul::matmul(&a, m, k, &b, n, &c).unwrap());
                    },
                ),
                &mut timed(|| (), |_| faer_product(&a, &b, m, k, n)),
                &mut || numpy.as_mut().map_or(NOT_RUN, Served::run),
            ],
        );
        drop(numpy);
        offload::simd::clean_upper_state();
        let mut peers = vec![("faer 0.24, called directly", faer_direct)];
        if !numpy_sample.ms.is_nan() {
            peers.push(("numpy (OpenBLAS)", numpy_sample));
        }
        let gflops = |s: &Sample| flops / (s.ms * 1e6);
        println!(
            "  ({name}: GFLOPS offload {:.0}, {})",
            gflops(&ours),
            peers
                .iter()
                .map(|(p, s)| format!("{p} {:.0}", gflops(s)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        print_row(&row(&name, ours, peers));
    }
    for shape in [
        (512, 512, 512),
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (4096, 4096, 4096),
        (8192, 256, 256),
        (256, 8192, 256),
        (2048, 64, 2048),
    ] {
        one::<f64>(shape, "float64", wanted, |x| x);
        one::<f32>(shape, "float32", wanted, |x| x as f32);
    }
}

/// The top `k` rows of `x` (rows x cols) by dot product with `q`: the plain parallel scan.
fn plain_top_k(x: &[f32], cols: usize, q: &[f32], k: usize) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = x
        .par_chunks(cols * 4096)
        .enumerate()
        .flat_map_iter(|(c, block)| {
            let mut local: Vec<(f32, usize)> = block
                .chunks_exact(cols)
                .enumerate()
                .map(|(i, row)| {
                    let mut acc = [0f32; 16];
                    let mut lanes = row.chunks_exact(16);
                    let mut lq = q.chunks_exact(16);
                    for (r, w) in (&mut lanes).zip(&mut lq) {
                        for l in 0..16 {
                            acc[l] += r[l] * w[l];
                        }
                    }
                    let tail: f32 = lanes
                        .remainder()
                        .iter()
                        .zip(lq.remainder())
                        .map(|(a, b)| a * b)
                        .sum();
                    (acc.iter().sum::<f32>() + tail, c * 4096 + i)
                })
                .collect();
            let k = k.min(local.len());
            local.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
            local.truncate(k);
            local
        })
        .collect();
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    best.truncate(k);
    best
}

fn top_k_data(rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(11);
    let x: Vec<f32> = (0..rows * cols).map(|_| rng.unit() as f32 - 0.5).collect();
    let q: Vec<f32> = (0..cols).map(|_| rng.unit() as f32 - 0.5).collect();
    (x, q)
}

/// Memory of one page size (Linux): 4 KiB pages, as a Node `ArrayBuffer` gets under the
/// usual `madvise` setting of transparent huge pages, or 2 MiB pages, as numpy asks for its
/// arrays. A scan of 1.5 GB reads 10% faster from huge pages on this kind of machine (fewer
/// TLB misses), so a peer's time is only comparable on the same kind of memory.
struct PagedF32 {
    base: *mut libc::c_void,
    mapped: usize,
    data: *mut f32,
    len: usize,
}

impl PagedF32 {
    const HUGE: usize = 2 << 20;

    fn new(values: &[f32], huge: bool) -> PagedF32 {
        let len = values.len();
        let mapped = len * 4 + Self::HUGE;
        // SAFETY: an anonymous private mapping, released in `drop`.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "mmap of {mapped} bytes failed");
        let data = (base as usize).next_multiple_of(Self::HUGE) as *mut f32;
        #[cfg(target_os = "linux")]
        {
            let advice = if huge {
                libc::MADV_HUGEPAGE
            } else {
                libc::MADV_NOHUGEPAGE
            };
            // SAFETY: the range lies inside the mapping; advice only (before any page is in).
            unsafe { libc::madvise(data as *mut libc::c_void, len * 4, advice) };
        }
        // SAFETY: `data` has room for `len` values inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), data, len) };
        PagedF32 {
            base,
            mapped,
            data,
            len,
        }
    }

    fn as_slice(&self) -> &[f32] {
        // SAFETY: written in full in `new`, alive until `drop`.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for PagedF32 {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer borrowed.
        unsafe { libc::munmap(self.base, self.mapped) };
    }
}

/// kB of this process's memory in transparent huge pages (0 where it cannot be read).
fn huge_page_kb() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("AnonHugePages:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One dot query over 1M x 384 float32, on each kind of memory in turn: offload, a plain
/// rayon scan and numpy (told to use the same page size) read the same values from it.
fn top_k_row(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    let (rows, cols) = (1_000_000, 384);
    let pages = [
        (false, "4k", "4 KiB pages, as a Node ArrayBuffer"),
        (true, "huge", "2 MiB pages, as numpy allocates"),
    ];
    let mut data = None;
    for (huge, peer_pages, memory) in pages {
        let name = format!("topK 1 dot query over 1M x 384 float32, k = 10, {memory}");
        if !wanted(&name) {
            continue;
        }
        let (values, q) = data.get_or_insert_with(|| top_k_data(rows, cols));
        let before = huge_page_kb();
        let x = PagedF32::new(values, huge);
        let got_huge = huge_page_kb() > before + (1 << 20);
        if got_huge != huge {
            println!("(skipped \"{name}\": the system gave other pages than asked for)");
            continue;
        }
        let x = x.as_slice();
        let c = Cancel::new();
        let metric = offload::algo::topk::Metric::Dot;
        let job = [
            "topk",
            &rows.to_string(),
            &cols.to_string(),
            "10",
            "serve",
            peer_pages,
        ];
        let mut numpy = numpy(&job.map(String::from));
        let [ours, plain, numpy_sample] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(
                            offload::algo::topk::top_k(x, rows, cols, q, 1, 10, metric, &c)
                                .unwrap(),
                        );
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        black_box(plain_top_k(x, cols, q, 10));
                    },
                ),
                &mut || numpy.as_mut().map_or(NOT_RUN, Served::run),
            ],
        );
        drop(numpy);
        let mut peers = vec![("plain rayon scan, 16 lanes", plain)];
        if !numpy_sample.ms.is_nan() {
            peers.push(("numpy X @ q + argpartition", numpy_sample));
        }
        print_row(&row(&name, ours, peers));
    }
}

/// Memory-bound kernels run fresh, after offload's `matmul`, and after a bare faer product
/// (which leaves the pool threads' upper vector state dirty: issue 24). Each call goes through
/// `pool.install` from outside the pool, as the addon's calls do.
fn after_matmul_rows(pool: &rayon::ThreadPool, runs: usize, wanted: &dyn Fn(&str) -> bool) {
    let c = Cancel::new();
    let floats = float_data(20_000_000, "uniform");
    let (x, q) = top_k_data(300_000, 384);
    let bytes = random_bytes(256 << 20, 13);
    let (w, h) = (3840usize, 2160usize);
    let pixels = random_bytes(w * h * 4, 14);
    let view = rgba(&pixels, w, h);
    let metric = offload::algo::topk::Metric::Dot;
    use offload::hash::kernel::{hash_bytes, Algorithm};
    type Kernel<'a> = (&'static str, Box<dyn Fn() + Sync + 'a>);
    let kernels: Vec<Kernel> = vec![
        (
            "describe 20M float64",
            Box::new(|| {
                black_box(offload::data::describe::describe(&floats, 0.0, &c).unwrap());
            }),
        ),
        (
            "histogram 20M float64, 256 bins",
            Box::new(|| {
                black_box(offload::data::histogram::histogram(&floats, 256, None, &c).unwrap());
            }),
        ),
        (
            "topK 1 dot query over 300K x 384 float32",
            Box::new(|| {
                black_box(
                    offload::algo::topk::top_k(&x, 300_000, 384, &q, 1, 10, metric, &c).unwrap(),
                );
            }),
        ),
        (
            "hash 256 MiB, SHA-256",
            Box::new(|| {
                black_box(hash_bytes(Algorithm::Sha256, &bytes, &c).unwrap());
            }),
        ),
        (
            "hash 256 MiB, xxh3-64",
            Box::new(|| {
                black_box(hash_bytes(Algorithm::Xxh3_64, &bytes, &c).unwrap());
            }),
        ),
        (
            "blur 3840x2160 RGBA, sigma 3",
            Box::new(|| {
                black_box(offload::image::blur::blur(&view, 3.0, &c).unwrap());
            }),
        ),
    ];
    let m: Vec<f64> = (0..512 * 512).map(|i| (i % 7) as f64).collect();
    for (name, run) in &kernels {
        let name = format!("{name}, after matmul");
        if !wanted(&name) {
            continue;
        }
        let fresh = measure(runs, || (), |_| pool.install(run));
        let after = measure(
            runs,
            || pool.install(|| black_box(offload::algo::matmul::matmul(&m, 512, 512, &m, 512, &c))),
            |_| pool.install(run),
        );
        let dirty = measure(
            runs,
            || pool.install(|| faer_product(&m, &m, 512, 512, 512)),
            |_| pool.install(run),
        );
        offload::simd::clean_upper_state();
        let mut r = row(&name, after, vec![("the same before any matmul", fresh)]);
        r.others
            .push(("after a bare faer product, not cleaned".into(), dirty));
        print_row(&r);
    }
}

fn blur_row(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    let (w, h) = (3840usize, 2160usize);
    for opaque in [true, false] {
        let name = format!(
            "blur 3840x2160 RGBA, sigma 3, {}",
            if opaque { "opaque" } else { "varying alpha" }
        );
        if !wanted(&name) {
            continue;
        }
        let mut pixels = random_bytes(w * h * 4, 3);
        if opaque {
            pixels.iter_mut().skip(3).step_by(4).for_each(|a| *a = 255);
        }
        let view = rgba(&pixels, w, h);
        let c = Cancel::new();
        let ours = measure(
            runs,
            || (),
            |_| {
                black_box(offload::image::blur::blur(&view, 3.0, &c).unwrap());
            },
        );
        // sharp in Node on random pixels of the same kind (its time does not depend on them).
        let args = [
            "sharp_peer.js",
            "3840",
            "2160",
            "3",
            &runs.to_string(),
            if opaque { "1" } else { "0" },
        ];
        match external(std::path::Path::new("node"), &args.map(String::from)) {
            Some(sharp) => print_row(&row(
                &name,
                ours,
                vec![("sharp (libvips), from Node", sharp)],
            )),
            None => println!(
                "| {name} | {:.1} ms ({:.1} cores) | sharp did not run (npm install first) | | |",
                ours.ms, ours.cores
            ),
        }
    }
}

fn resize_row(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    let name = "resize 3840x2160 RGBA to 1920x1080, Lanczos3";
    if !wanted(name) {
        return;
    }
    let (w, h) = (3840usize, 2160usize);
    let pixels = random_bytes(w * h * 4, 3);
    let view = rgba(&pixels, w, h);
    let c = Cancel::new();
    let [ours, direct] = side_by_side(
        runs,
        [
            &mut timed(
                || (),
                |_| {
                    black_box(
                        offload::image::resize::resize(
                            &view,
                            1920,
                            1080,
                            offload::image::resize::Filter::Lanczos3,
                            &c,
                        )
                        .unwrap(),
                    );
                },
            ),
            &mut timed(
                || (),
                |_| {
                    let src = fir::images::ImageRef::new(
                        w as u32,
                        h as u32,
                        &pixels,
                        fir::PixelType::U8x4,
                    )
                    .unwrap();
                    let mut dst = fir::images::Image::new(1920, 1080, fir::PixelType::U8x4);
                    let options = fir::ResizeOptions::new()
                        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3))
                        .use_alpha(true);
                    fir::Resizer::new()
                        .resize(&src, &mut dst, &options)
                        .unwrap();
                    black_box(dst);
                },
            ),
        ],
    );
    print_row(&row(
        name,
        ours,
        vec![("fast_image_resize, called directly", direct)],
    ));
}

fn hash_rows(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    use offload::hash::kernel::{hash_bytes, Algorithm};
    use sha2::Digest as _;
    let names = [
        "hash 1 GiB, BLAKE3",
        "hash 1 GiB, SHA-256",
        "hash 1 GiB, xxh3-64",
    ];
    if !names.iter().any(|n| wanted(n)) {
        return;
    }
    let bytes = random_bytes(1 << 30, 5);
    let c = Cancel::new();
    let peers: [HashPeer; 3] = [
        (names[0], Algorithm::Blake3, "blake3 update_rayon", &|b| {
            black_box(blake3::Hasher::new().update_rayon(b).finalize());
        }),
        (names[1], Algorithm::Sha256, "sha2", &|b| {
            black_box(sha2::Sha256::digest(b));
        }),
        (names[2], Algorithm::Xxh3_64, "twox-hash oneshot", &|b| {
            black_box(twox_hash::XxHash3_64::oneshot(b));
        }),
    ];
    for (name, algorithm, peer, direct) in peers {
        if wanted(name) {
            let [ours, theirs] = side_by_side(
                runs,
                [
                    &mut timed(
                        || (),
                        |_| {
                            black_box(hash_bytes(algorithm, &bytes, &c).unwrap());
                        },
                    ),
                    &mut timed(|| (), |_| direct(&bytes)),
                ],
            );
            print_row(&row(name, ours, vec![(peer, theirs)]));
        }
    }
}

fn primes_row(threads: usize, wanted: &dyn Fn(&str) -> bool) {
    for (name, limit, count, runs) in [
        ("countPrimes 1e10", 10_000_000_000u64, 455_052_511u64, 3),
        ("countPrimes 1e11", 100_000_000_000, 4_118_054_813, 1),
    ] {
        if !wanted(name) {
            continue;
        }
        let c = Cancel::new();
        let ours = measure(
            runs,
            || (),
            |_| {
                assert_eq!(
                    offload::algo::primes::count_primes(limit, &c).unwrap(),
                    count
                );
            },
        );
        if !installed("primesieve") {
            println!(
                "| {name} | {:.1} ms ({:.1} cores) | primesieve not installed (apt-get install primesieve) | | |",
                ours.ms, ours.cores
            );
            continue;
        }
        let args = [
            limit.to_string(),
            "--count=1".into(),
            "--quiet".into(),
            format!("--threads={threads}"),
        ];
        let check = |out: &std::process::Output| {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                count.to_string()
            );
        };
        let theirs = time_command(runs, "primesieve", &args, Some(&check));
        print_row(&row(name, ours, vec![("primesieve (CLI)", theirs)]));
    }
}

/// About `bytes` of JSON log lines (the shape of `__test__/fixtures/logs.js`).
fn log_lines(bytes: usize) -> Vec<u8> {
    let paths = [
        "/api/users",
        "/api/orders",
        "/static/app.js",
        "/health",
        "/api/search?q=shoes",
        "/api/cart",
        "/login",
    ];
    let levels = ["info", "info", "info", "warn", "error", "debug"];
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let status = [200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503];
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64)",
        "curl/8.5.0",
        "okhttp/4.12.0",
        "Go-http-client/2.0",
    ];
    let mut rng = Rng(7);
    let mut out = String::with_capacity(bytes + 512);
    let mut t = 0u64;
    while out.len() < bytes {
        let r = rng.next();
        t += r % 50;
        out.push_str(&format!(
            "{{\"ts\":\"2026-11-27T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\",\"method\":\"{}\",\"path\":\"{}\",\"status\":{},\"ms\":{:.1},\"bytes\":{},\"req\":\"{:08x}\",\"user\":{},\"ua\":\"{}\"}}\n",
            10 + t / 3_600_000 % 12, t / 60_000 % 60, t / 1000 % 60, t % 1000,
            levels[(r >> 8) as usize % 6], methods[(r >> 16) as usize % 6], paths[(r >> 24) as usize % 7],
            status[(r >> 32) as usize % 12], (r >> 40) % 10000 / 37, rng.next() % 200_000, rng.next() as u32,
            rng.next() % 5000, agents[(r >> 48) as usize % 4]
        ));
    }
    out.into_bytes()
}

/// pigz's scheme on zlib-rs, written out here as its peer would be: blocks of 128 KiB in
/// parallel, each primed with the 32 KiB before it, sync-flushed.
fn pigz_zlib_rs(data: &[u8], level: u32) -> usize {
    use flate2::{Compress, Compression, FlushCompress};
    const B: usize = 128 << 10;
    let parts: Vec<Vec<u8>> = (0..data.len().div_ceil(B))
        .into_par_iter()
        .map(|i| {
            let (s, e) = (i * B, ((i + 1) * B).min(data.len()));
            let mut c = Compress::new_with_window_bits(Compression::new(level), false, 15);
            if s > 0 {
                c.set_dictionary(&data[s.saturating_sub(32768)..s]).unwrap();
            }
            let mut out = Vec::with_capacity(e - s + 1024);
            let flush = if e == data.len() {
                FlushCompress::Finish
            } else {
                FlushCompress::Sync
            };
            c.compress_vec(&data[s..e], &mut out, flush).unwrap();
            out
        })
        .collect();
    parts.iter().map(Vec::len).sum()
}

fn compress_rows(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    use offload::compress::{compress, decompress, Format};
    let names = [
        "gzip level 6, 200 MB JSON logs",
        "gunzip, 200 MB JSON logs",
        "zstd level 3, 200 MB JSON logs",
        "brotli quality 5, 20 MB JSON logs",
    ];
    if !names.iter().any(|n| wanted(n)) {
        return;
    }
    let data = log_lines(200_000_000);
    let c = Cancel::new();
    if wanted(names[0]) {
        let [ours, libdeflate_one, pigz_rs] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(compress(&data, Format::Gzip, 6, &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut z = libdeflater::Compressor::new(
                            libdeflater::CompressionLvl::new(6).unwrap(),
                        );
                        let mut out = vec![0u8; z.gzip_compress_bound(data.len())];
                        black_box(z.gzip_compress(&data, &mut out).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        black_box(pigz_zlib_rs(&data, 6));
                    },
                ),
            ],
        );
        let mut peers = vec![
            ("libdeflate, one call (1 thread)", libdeflate_one),
            ("pigz's scheme on zlib-rs", pigz_rs),
        ];
        let file = std::env::temp_dir().join("offload-bench-logs.json");
        std::fs::write(&file, &data).unwrap();
        if installed("pigz") {
            let args = [
                "-6".into(),
                "-p".into(),
                threads.to_string(),
                "-c".into(),
                file.display().to_string(),
            ];
            peers.push(("pigz (CLI)", time_command(3, "pigz", &args, None)));
        }
        let _ = std::fs::remove_file(&file);
        print_row(&row(names[0], ours, peers));
    }
    if wanted(names[1]) {
        let packed = compress(&data, Format::Gzip, 6, &c).unwrap();
        let one_member = {
            let mut z = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(6).unwrap());
            let mut out = vec![0u8; z.gzip_compress_bound(data.len())];
            let n = z.gzip_compress(&data, &mut out).unwrap();
            out.truncate(n);
            out
        };
        let [ours, libdeflate, flate2] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(
                            decompress(&one_member, Some(Format::Gzip), usize::MAX, &c).unwrap(),
                        );
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        // Its best case: one call with the output size known in advance.
                        let mut d = libdeflater::Decompressor::new();
                        let mut out = vec![0u8; data.len()];
                        black_box(d.gzip_decompress(&one_member, &mut out).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        use std::io::Read;
                        let mut out = Vec::with_capacity(data.len());
                        flate2::read::MultiGzDecoder::new(&packed[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        black_box(out);
                    },
                ),
            ],
        );
        print_row(&row(
            names[1],
            ours,
            vec![
                ("libdeflate (size known)", libdeflate),
                ("flate2 MultiGzDecoder (zlib-rs)", flate2),
            ],
        ));
    }
    if wanted(names[2]) {
        let [ours, zstd_mt] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(compress(&data, Format::Zstd, 3, &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut e = zstd::bulk::Compressor::new(3).unwrap();
                        e.multithread(threads as u32).unwrap();
                        black_box(e.compress(&data).unwrap());
                    },
                ),
            ],
        );
        let mut peers = vec![("zstd crate bulk, multithread", zstd_mt)];
        let file = std::env::temp_dir().join("offload-bench-logs-zstd.json");
        std::fs::write(&file, &data).unwrap();
        if installed("zstd") {
            // The CLI reads the file and writes to /dev/null: its I/O is in its time.
            let args = [
                "-3".into(),
                "-q".into(),
                "-c".into(),
                format!("-T{threads}"),
                file.display().to_string(),
            ];
            peers.push(("zstd -3 -T (CLI)", time_command(runs, "zstd", &args, None)));
        }
        let _ = std::fs::remove_file(&file);
        print_row(&row(names[2], ours, peers));
    }
    if wanted(names[3]) {
        let small = &data[..20_000_000];
        let [ours, one] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(compress(small, Format::Brotli, 5, &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut out = Vec::new();
                        let params = brotli::enc::BrotliEncoderParams {
                            quality: 5,
                            lgwin: 22,
                            ..Default::default()
                        };
                        brotli::BrotliCompress(&mut &small[..], &mut out, &params).unwrap();
                        black_box(out);
                    },
                ),
            ],
        );
        print_row(&row(
            names[3],
            ours,
            vec![("brotli crate, one thread", one)],
        ));
    }
}

/// Password hashing against the RustCrypto crates (`argon2`, which @node-rs/argon2 wraps,
/// `scrypt`) and the `bcrypt` crate (@node-rs/bcrypt's): the same parameters and salt.
fn password_rows(runs: usize, wanted: &dyn Fn(&str) -> bool) {
    use offload::password::argon2::{argon2, Argon2Input, Argon2Params, Variant, VERSION_13};
    let c = Cancel::new();
    let salt = [7u8; 16];
    for (name, m, t, p) in [
        (
            "password argon2id m=19456 t=2 p=1 (OWASP)",
            19456u32,
            2u32,
            1u32,
        ),
        ("password argon2id m=65536 t=3 p=4", 65536, 3, 4),
    ] {
        if !wanted(name) {
            continue;
        }
        let params = Argon2Params {
            variant: Variant::Argon2id,
            version: VERSION_13,
            memory_kib: m,
            passes: t,
            lanes: p,
        };
        let input = Argon2Input {
            password: b"correct horse battery staple",
            salt: &salt,
            secret: &[],
            associated_data: &[],
        };
        let [ours, theirs] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        let mut tag = [0u8; 32];
                        argon2(&params, &input, &mut tag, &c).unwrap();
                        black_box(tag);
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let ctx = argon2::Argon2::new(
                            argon2::Algorithm::Argon2id,
                            argon2::Version::V0x13,
                            argon2::Params::new(m, t, p, Some(32)).unwrap(),
                        );
                        let mut tag = [0u8; 32];
                        ctx.hash_password_into(b"correct horse battery staple", &salt, &mut tag)
                            .unwrap();
                        black_box(tag);
                    },
                ),
            ],
        );
        print_row(&row(
            name,
            ours,
            vec![("RustCrypto argon2 0.6 (parallel)", theirs)],
        ));
    }
    let name = "password scrypt N=2^17 r=8 p=1";
    if wanted(name) {
        use offload::password::scrypt::{scrypt, ScryptParams};
        let [ours, theirs] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        let mut out = [0u8; 32];
                        scrypt(
                            &ScryptParams {
                                log_n: 17,
                                r: 8,
                                p: 1,
                            },
                            b"pw",
                            &salt,
                            &mut out,
                            &c,
                        )
                        .unwrap();
                        black_box(out);
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        let mut out = [0u8; 32];
                        scrypt::scrypt(
                            b"pw",
                            &salt,
                            &scrypt::Params::new(17, 8, 1).unwrap(),
                            &mut out,
                        )
                        .unwrap();
                        black_box(out);
                    },
                ),
            ],
        );
        print_row(&row(name, ours, vec![("RustCrypto scrypt 0.12", theirs)]));
    }
    let name = "password bcrypt cost 12";
    if wanted(name) {
        use offload::password::bcrypt::{bcrypt, key_of};
        let [ours, theirs] = side_by_side(
            runs,
            [
                &mut timed(
                    || (),
                    |_| {
                        black_box(bcrypt(12, &salt, &key_of(b"pw"), &c).unwrap());
                    },
                ),
                &mut timed(
                    || (),
                    |_| {
                        black_box(bcrypt::hash_with_salt(b"pw", 12, salt).unwrap());
                    },
                ),
            ],
        );
        print_row(&row(
            name,
            ours,
            vec![("bcrypt crate 0.19 (blowfish crate rounds)", theirs)],
        ));
    }
}

/// The vector and crypto extensions the kernels can use, as /proc/cpuinfo lists them.
fn cpu_flags() -> String {
    let wanted = [
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "bmi2",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
        "vaes",
        "vpclmulqdq",
        "sha_ni",
        "asimd",
        "sve",
    ];
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("flags") || l.starts_with("Features"))
                .map(|l| {
                    let have: Vec<&str> = l
                        .split(':')
                        .nth(1)
                        .unwrap_or("")
                        .split_whitespace()
                        .collect();
                    wanted
                        .iter()
                        .filter(|f| have.contains(f))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
        })
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    // Rows whose name contains any of the arguments (all rows without arguments).
    let filters: Vec<String> = std::env::args().skip(1).collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let pool = offload::pool::current().expect("the rayon pool starts");
    let threads = pool.current_num_threads();
    println!(
        "offload native benchmark: {}, {} threads in the pool; medians; cores = CPU time / wall time",
        cpu_model(),
        threads
    );
    println!(
        "CPU flags: {}; the kernels use: {:?}",
        cpu_flags(),
        offload::simd::Level::detect()
    );
    println!();
    println!("| work | offload | best native, same run | offload / best | others |");
    println!("|---|---:|---:|---:|---|");
    pool.install(|| {
        sort_rows(5, threads, &wanted);
        stats_rows(5, &wanted);
        matmul_rows(&wanted);
        top_k_row(7, &wanted);
        blur_row(7, &wanted);
        resize_row(9, &wanted);
        hash_rows(3, &wanted);
        primes_row(threads, &wanted);
        compress_rows(5, threads, &wanted);
        password_rows(7, &wanted);
    });
    after_matmul_rows(&pool, 7, &wanted);
}
