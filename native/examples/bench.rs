//! `cargo run --release --example bench`: per-operation timings of the safe layer, without FFI.
//! The median of 5 rounds of ~200 ms each is printed; the machine is shared, so compare
//! figures from the same run only.

use qudag_native::{aead, batch, blake3_hash, mldsa87, mlkem};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 5;
const ROUND_SECONDS: f64 = 0.2;

fn per_second(units: f64, mut op: impl FnMut()) -> f64 {
    let mut rates = vec![];
    for round in 0..=ROUNDS {
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed().as_secs_f64() < ROUND_SECONDS {
            op();
            count += 1;
        }
        if round > 0 {
            rates.push(count as f64 * units / start.elapsed().as_secs_f64());
        }
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

fn report(name: &str, rate: f64) {
    println!("{name:36} {rate:>12.0} /s  {:>9.1} us", 1e6 / rate);
}

fn main() {
    let seed = [7u8; 32];
    let message = [1u8; 256];
    let (pk, sk) = mldsa87::keygen(&seed);
    let sig = mldsa87::sign(&sk, &message, b"", &[0u8; 32]).unwrap();
    report(
        "ML-DSA-87 keygen",
        per_second(1.0, || {
            let _ = black_box(mldsa87::keygen(&seed));
        }),
    );
    report(
        "ML-DSA-87 sign",
        per_second(1.0, || {
            let _ = black_box(mldsa87::sign(&sk, &message, b"", &[0u8; 32]));
        }),
    );
    report(
        "ML-DSA-87 verify",
        per_second(1.0, || {
            assert_eq!(mldsa87::verify(&pk, &message, b"", &sig), Ok(true))
        }),
    );

    const BATCH: usize = 64;
    let items: Vec<batch::Item<'_>> = (0..BATCH)
        .map(|_| batch::Item {
            public_key: &pk,
            signature: &sig,
            context: b"",
            message: &message,
        })
        .collect();
    let one = per_second(BATCH as f64, || {
        assert!(batch::verify(&items, 1).iter().all(|&r| r == 1))
    });
    let two = per_second(BATCH as f64, || {
        assert!(batch::verify(&items, 2).iter().all(|&r| r == 1))
    });
    report("ML-DSA-87 batch verify, 1 thread", one);
    report("ML-DSA-87 batch verify, 2 threads", two);
    println!("{:36} {:>12.2}", "batch 2 threads / 1 thread", two / one);

    for level in [mlkem::Level::MlKem768, mlkem::Level::MlKem1024] {
        let pair = mlkem::keygen(level, &[1; 32], &[2; 32]);
        let enc = mlkem::encaps(level, &pair.encapsulation_key, &[3; 32]).unwrap();
        report(
            &format!("{level:?} keygen"),
            per_second(1.0, || {
                let _ = black_box(mlkem::keygen(level, &[1; 32], &[2; 32]));
            }),
        );
        report(
            &format!("{level:?} encaps"),
            per_second(1.0, || {
                let _ = black_box(mlkem::encaps(level, &pair.encapsulation_key, &[3; 32]));
            }),
        );
        report(
            &format!("{level:?} decaps"),
            per_second(1.0, || {
                let _ = black_box(mlkem::decaps(
                    level,
                    &pair.decapsulation_key,
                    &enc.ciphertext,
                ));
            }),
        );
    }
    let kib = vec![5u8; 1024];
    let mib = vec![5u8; 1 << 20];
    report(
        "BLAKE3 1 KiB",
        per_second(1.0, || {
            let _ = black_box(blake3_hash::hash(&kib, 32));
        }),
    );
    report(
        "BLAKE3 1 MiB (= MiB/s)",
        per_second(1.0, || {
            let _ = black_box(blake3_hash::hash(&mib, 32));
        }),
    );
    let key = [9u8; aead::KEY_BYTES];
    let nonce = [4u8; aead::NONCE_BYTES];
    for size in [128usize, 7 * 1024, 300 * 1024] {
        let plain = vec![6u8; size];
        let sealed = aead::seal(&key, &nonce, b"header", &plain).unwrap();
        report(
            &format!("AES-256-GCM seal {size} B"),
            per_second(1.0, || {
                let _ = black_box(aead::seal(&key, &nonce, b"header", &plain));
            }),
        );
        report(
            &format!("AES-256-GCM open {size} B"),
            per_second(1.0, || {
                let _ = black_box(aead::open(&key, &nonce, b"header", &sealed));
            }),
        );
    }
}
