//! The learning questionnaire (written for CyberHub): 16 single-choice items, each option
//! pointing at one or two of the five tracks. Scored by [`score_answers`].

use crate::error::{AiError, Result};
use cyberhub_domain::api_ai::{Answer, Question, QuestionOption, Questionnaire};
use cyberhub_domain::Track;
use std::collections::HashSet;

/// Version of the questionnaire below; stored analyses name it.
pub const QUESTIONNAIRE_VERSION: &str = "2026-11";

use Track::{Defender as D, Grc as G, Innovation as I, Leadership as L, Offensive as O};

type Opt = (&'static str, &'static str, &'static [(Track, f64)]);

/// (question id, text, options (id, text, track weights)).
const ITEMS: &[(&str, &str, &[Opt])] = &[
    (
        "q01",
        "A new alert fires at 2 a.m. What do you want to do?",
        &[
            (
                "a",
                "Dig into the logs and find out what happened",
                &[(D, 1.0)],
            ),
            (
                "b",
                "Work out how the attacker got in and try it myself",
                &[(O, 1.0)],
            ),
            (
                "c",
                "Check which policy or control should have stopped it",
                &[(G, 1.0)],
            ),
            (
                "d",
                "Make sure the right people are on it and informed",
                &[(L, 1.0)],
            ),
        ],
    ),
    (
        "q02",
        "Which weekend project sounds best?",
        &[
            (
                "a",
                "Building a home lab with a SIEM and some honeypots",
                &[(D, 1.0)],
            ),
            ("b", "Solving a capture-the-flag competition", &[(O, 1.0)]),
            (
                "c",
                "Prototyping a tool that uses machine learning to spot phishing",
                &[(I, 1.0)],
            ),
            (
                "d",
                "Writing a risk register for a small charity",
                &[(G, 1.0)],
            ),
        ],
    ),
    (
        "q03",
        "What frustrates you most at work?",
        &[
            ("a", "Threats that go unnoticed for months", &[(D, 1.0)]),
            (
                "b",
                "Systems everyone assumes are secure but nobody has tested",
                &[(O, 1.0)],
            ),
            (
                "c",
                "Rules that exist on paper but not in practice",
                &[(G, 1.0)],
            ),
            ("d", "Teams that do not talk to each other", &[(L, 1.0)]),
        ],
    ),
    (
        "q04",
        "Which book would you pick up first?",
        &[
            ("a", "The Web Application Hacker's Handbook", &[(O, 1.0)]),
            ("b", "A practical guide to incident response", &[(D, 1.0)]),
            ("c", "A study of adversarial machine learning", &[(I, 1.0)]),
            (
                "d",
                "A biography of a CISO who turned a company around",
                &[(L, 1.0)],
            ),
        ],
    ),
    (
        "q05",
        "In a group project you usually...",
        &[
            (
                "a",
                "Take the hardest technical piece",
                &[(O, 0.5), (D, 0.5)],
            ),
            (
                "b",
                "Organise the work and keep everyone moving",
                &[(L, 1.0)],
            ),
            (
                "c",
                "Make sure nothing is missed and it is all documented",
                &[(G, 1.0)],
            ),
            (
                "d",
                "Suggest a new way of doing it nobody has tried",
                &[(I, 1.0)],
            ),
        ],
    ),
    (
        "q06",
        "Which of these would you most like to be known for?",
        &[
            (
                "a",
                "Catching an intrusion before any damage was done",
                &[(D, 1.0)],
            ),
            (
                "b",
                "Finding a critical vulnerability before criminals did",
                &[(O, 1.0)],
            ),
            (
                "c",
                "Getting a company through its first ISO 27001 audit",
                &[(G, 1.0)],
            ),
            (
                "d",
                "Publishing research that changed how people defend",
                &[(I, 1.0)],
            ),
        ],
    ),
    (
        "q07",
        "How do you like to learn?",
        &[
            (
                "a",
                "Break things in a lab until I understand them",
                &[(O, 0.6), (D, 0.4)],
            ),
            (
                "b",
                "Read the standard, then map it to real cases",
                &[(G, 1.0)],
            ),
            (
                "c",
                "Talk it through with people and learn from their experience",
                &[(L, 1.0)],
            ),
            ("d", "Read papers and try the newest tools", &[(I, 1.0)]),
        ],
    ),
    (
        "q08",
        "A vendor claims their product stops all ransomware. You...",
        &[
            ("a", "Ask how it detects it and what it logs", &[(D, 1.0)]),
            (
                "b",
                "Ask for a trial so you can try to bypass it",
                &[(O, 1.0)],
            ),
            (
                "c",
                "Ask for their certifications and contract terms",
                &[(G, 1.0)],
            ),
            (
                "d",
                "Ask what it costs compared to the risk it removes",
                &[(L, 0.6), (G, 0.4)],
            ),
        ],
    ),
    (
        "q09",
        "Which task would you happily do all afternoon?",
        &[
            (
                "a",
                "Tuning detection rules to cut false positives",
                &[(D, 1.0)],
            ),
            ("b", "Writing an exploit for a known bug", &[(O, 1.0)]),
            ("c", "Training a model on security data", &[(I, 1.0)]),
            ("d", "Preparing a board briefing on cyber risk", &[(L, 1.0)]),
        ],
    ),
    (
        "q10",
        "What kind of problem excites you?",
        &[
            (
                "a",
                "One with a clear adversary to outsmart",
                &[(O, 0.5), (D, 0.5)],
            ),
            ("b", "One nobody has solved before", &[(I, 1.0)]),
            (
                "c",
                "One where many people must agree",
                &[(L, 0.6), (G, 0.4)],
            ),
            ("d", "One with rules to interpret and apply", &[(G, 1.0)]),
        ],
    ),
    (
        "q11",
        "Pick a tool to master.",
        &[
            ("a", "Wireshark and a SIEM query language", &[(D, 1.0)]),
            ("b", "Burp Suite and Metasploit", &[(O, 1.0)]),
            ("c", "A GRC platform and a control framework", &[(G, 1.0)]),
            ("d", "Python notebooks and an LLM toolkit", &[(I, 1.0)]),
        ],
    ),
    (
        "q12",
        "After a security incident, which part matters most to you?",
        &[
            ("a", "The timeline of what the attacker did", &[(D, 1.0)]),
            (
                "b",
                "Reproducing the attack to prove the fix works",
                &[(O, 1.0)],
            ),
            (
                "c",
                "The report to regulators and lessons learned",
                &[(G, 1.0)],
            ),
            (
                "d",
                "How the team coped and what to change in how we work",
                &[(L, 1.0)],
            ),
        ],
    ),
    (
        "q13",
        "Where do you see yourself in five years?",
        &[
            (
                "a",
                "Leading a security operations centre",
                &[(D, 0.6), (L, 0.4)],
            ),
            ("b", "Running a red team", &[(O, 0.7), (L, 0.3)]),
            ("c", "Head of risk and compliance", &[(G, 1.0)]),
            (
                "d",
                "At a start-up building new security products",
                &[(I, 1.0)],
            ),
        ],
    ),
    (
        "q14",
        "Which news story would you click first?",
        &[
            (
                "a",
                "A zero-day exploited in the wild",
                &[(O, 0.5), (D, 0.5)],
            ),
            ("b", "A new data-protection law passed", &[(G, 1.0)]),
            ("c", "Attackers using AI to write malware", &[(I, 1.0)]),
            ("d", "A CEO explains how they handled a breach", &[(L, 1.0)]),
        ],
    ),
    (
        "q15",
        "How do you handle a task with no clear instructions?",
        &[
            (
                "a",
                "Explore and experiment until something works",
                &[(O, 0.5), (I, 0.5)],
            ),
            (
                "b",
                "Look for the relevant standard or policy first",
                &[(G, 1.0)],
            ),
            (
                "c",
                "Gather evidence methodically before acting",
                &[(D, 1.0)],
            ),
            (
                "d",
                "Find the people who know and bring them together",
                &[(L, 1.0)],
            ),
        ],
    ),
    (
        "q16",
        "Which skill would you most like to improve?",
        &[
            ("a", "Spotting the signal in noisy data", &[(D, 1.0)]),
            ("b", "Thinking like an attacker", &[(O, 1.0)]),
            ("c", "Explaining risk to non-experts", &[(L, 0.5), (G, 0.5)]),
            (
                "d",
                "Turning new research into working prototypes",
                &[(I, 1.0)],
            ),
        ],
    ),
];

/// The questionnaire as served by `GET /personality/questionnaire`.
pub fn questionnaire() -> Questionnaire {
    Questionnaire {
        version: QUESTIONNAIRE_VERSION.into(),
        questions: ITEMS
            .iter()
            .map(|(id, text, options)| Question {
                id: (*id).into(),
                text: (*text).into(),
                options: options
                    .iter()
                    .map(|(oid, otext, _)| QuestionOption {
                        id: (*oid).into(),
                        text: (*otext).into(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Number of questions.
pub fn question_count() -> usize {
    ITEMS.len()
}

/// Scores answers into per-track fit (0–1, each track's share of the answers' weight) and
/// the number of questions answered. Unknown questions or options and repeated questions
/// are rejected (`InvalidInput`) naming the offending id.
pub fn score_answers(answers: &[Answer]) -> Result<(Vec<(Track, f64)>, usize)> {
    let mut seen = HashSet::new();
    let mut sums = [0.0_f64; 5];
    for a in answers {
        let Some((_, _, options)) = ITEMS.iter().find(|(id, _, _)| *id == a.question_id) else {
            return Err(AiError::invalid(format!(
                "unknown question_id '{}'",
                a.question_id
            )));
        };
        if !seen.insert(a.question_id.as_str()) {
            return Err(AiError::invalid(format!(
                "question '{}' is answered more than once",
                a.question_id
            )));
        }
        let Some((_, _, weights)) = options.iter().find(|(oid, _, _)| *oid == a.option_id) else {
            return Err(AiError::invalid(format!(
                "question '{}' has no option '{}'",
                a.question_id, a.option_id
            )));
        };
        for (track, w) in *weights {
            if let Some(i) = Track::ALL.iter().position(|t| t == track) {
                if let Some(s) = sums.get_mut(i) {
                    *s += w;
                }
            }
        }
    }
    let n = seen.len();
    let fit = Track::ALL
        .iter()
        .zip(sums)
        .map(|(t, s)| (*t, if n > 0 { s / n as f64 } else { 0.0 }))
        .collect();
    Ok((fit, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed() {
        let q = questionnaire();
        assert!(q.questions.len() >= 15);
        let ids: HashSet<_> = q.questions.iter().map(|q| q.id.clone()).collect();
        assert_eq!(ids.len(), q.questions.len(), "question ids are unique");
        for (_, _, options) in ITEMS {
            assert!(options.len() >= 3);
            for (_, _, weights) in *options {
                let total: f64 = weights.iter().map(|(_, w)| w).sum();
                assert!((total - 1.0).abs() < 1e-9, "each option carries weight 1");
            }
        }
        // Every track can be reached from most questions.
        for t in Track::ALL {
            let reach = ITEMS
                .iter()
                .filter(|(_, _, o)| o.iter().any(|(_, _, w)| w.iter().any(|(x, _)| x == t)))
                .count();
            assert!(reach >= 8, "{t} reachable from only {reach} questions");
        }
    }

    #[test]
    fn planted_answers_win_and_bad_answers_are_named() {
        // For every track: pick, per question, the option weighing that track most.
        for target in Track::ALL {
            let answers: Vec<Answer> = ITEMS
                .iter()
                .map(|(qid, _, options)| {
                    let best = options
                        .iter()
                        .max_by(|a, b| {
                            let w = |o: &Opt| {
                                o.2.iter()
                                    .filter(|(t, _)| t == target)
                                    .map(|(_, w)| *w)
                                    .sum::<f64>()
                            };
                            w(a).total_cmp(&w(b))
                        })
                        .unwrap();
                    Answer {
                        question_id: (*qid).into(),
                        option_id: best.0.into(),
                    }
                })
                .collect();
            let (fit, n) = score_answers(&answers).unwrap();
            assert_eq!(n, ITEMS.len());
            let top = fit.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            assert_eq!(top.0, *target, "{fit:?}");
        }
        let bad = |q: &str, o: &str| {
            score_answers(&[Answer {
                question_id: q.into(),
                option_id: o.into(),
            }])
            .unwrap_err()
            .to_string()
        };
        assert!(bad("q99", "a").contains("q99"));
        assert!(bad("q01", "z").contains("'z'"));
        let twice = vec![
            Answer {
                question_id: "q01".into(),
                option_id: "a".into(),
            };
            2
        ];
        assert!(score_answers(&twice).is_err());
        assert_eq!(score_answers(&[]).unwrap().1, 0);
    }
}
