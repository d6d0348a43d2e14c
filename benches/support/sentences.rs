//! The 512 short security sentences the embedding benchmarks use (`benches/embed.rs` and the
//! comparison harness's `embed` section): 8 subjects × 8 actions × 8 objects.

const SUBJECTS: [&str; 8] = [
    "A phishing email",
    "The SOC analyst",
    "An attacker",
    "The firewall",
    "A ransomware sample",
    "The incident responder",
    "A misconfigured S3 bucket",
    "The red team",
];
const ACTIONS: [&str; 8] = [
    "exfiltrates credentials from",
    "blocks outbound traffic to",
    "escalates privileges on",
    "detects lateral movement in",
    "encrypts files across",
    "triages alerts from",
    "exposes customer records in",
    "pivots through",
];
const OBJECTS: [&str; 8] = [
    "the domain controller",
    "a legacy VPN gateway",
    "the production Kubernetes cluster",
    "an unpatched web server",
    "the finance department's file share",
    "a compromised laptop",
    "the CI/CD pipeline",
    "a cloud IAM role with broad permissions",
];

/// The first `n` sentences (they repeat after 512).
pub fn sentences(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{} {} {} after hours.",
                SUBJECTS[i % 8],
                ACTIONS[(i / 8) % 8],
                OBJECTS[(i / 64) % 8]
            )
        })
        .collect()
}
