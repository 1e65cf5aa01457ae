//! What happens to each account of a chunk, drawn up front from the chunk's own random
//! stream: when it is activated, its plan, whether it adds a service later, whether and when it
//! leaves (and how), its family. The simulation ([`super::simulate`]) then plays these out
//! day by day under the real billing rules.
//!
//! Each chunk's stream is seeded from (accounts, months, chunk number), so a book of N accounts
//! and M months is the same whatever the time it takes to write, and a chunk can be drawn
//! without drawing the ones before it.

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A monthly chance of leaving of about 2%, as a daily one.
pub const LEAVE_PER_DAY: f64 = 0.02 / 30.0;
/// Accounts that head a family of child accounts (a business with branch offices).
pub const FAMILY_SHARE: f64 = 0.01;
/// Accounts with a static IP from the start, and accounts that add one later (prorated).
pub const ADDON_AT_START: f64 = 0.05;
pub const ADDON_LATER: f64 = 0.10;
/// Of the disconnections: those carried out by a scheduled event, and those preceded by a
/// one-time equipment recovery fee (which the final invoice takes, with the credits applied).
pub const SCHEDULED_SHARE: f64 = 0.25;
pub const FEE_SHARE: f64 = 0.40;
/// Active accounts with a disconnection scheduled ahead.
pub const PENDING_SHARE: f64 = 0.02;
/// New accounts that move into an address a former customer left, when one is free.
pub const REUSE_SHARE: f64 = 0.5;

pub const FIRST: &[&str] = &[
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Radia",
];
pub const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Lamarr",
    "Sutherland",
    "Sammet",
    "Thompson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
];
pub const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Pine Rd",
    "Lake View Dr",
    "Hill St",
];
pub const BRANCHES: &[&str] = &["Depot", "Office", "Warehouse", "Store", "Clinic"];

/// A local date and a time of day, in seconds after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct When {
    pub date: NaiveDate,
    pub secs: u32,
}

impl When {
    pub fn plus_secs(self, secs: i64) -> When {
        let t = self.date.and_hms_opt(0, 0, 0).unwrap_or_default()
            + Duration::seconds(self.secs as i64 + secs);
        When {
            date: t.date(),
            secs: (t.time() - chrono::NaiveTime::MIN).num_seconds() as u32,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Leave {
    pub at: When,
    /// When the scheduled event that carries it out was created; none for a disconnection
    /// made directly.
    pub scheduled_at: Option<When>,
    pub fee: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub activated: When,
    pub name: String,
    pub email_name: String,
    pub commercial: bool,
    /// The position (in the chunk) of the parent account.
    pub parent: Option<usize>,
    pub plan: usize,
    pub addon_at_start: bool,
    pub addon_later: Option<When>,
    pub leaves: Option<Leave>,
    /// The datetime (local) of a disconnection scheduled ahead.
    pub pending: Option<When>,
    pub reuse_address: bool,
    pub line1: String,
    pub zip: String,
    pub latitude: String,
    pub longitude: String,
    pub marketing_opt_in: bool,
}

/// The window of the book: activations on `[start, today - 1]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: NaiveDate,
    pub today: NaiveDate,
}

fn daytime(rng: &mut StdRng, from_hour: u32, to_hour: u32) -> u32 {
    rng.random_range(from_hour * 3600..to_hour * 3600)
}

fn day_in(rng: &mut StdRng, from: NaiveDate, until_excl: NaiveDate) -> Option<NaiveDate> {
    let days = (until_excl - from).num_days();
    (days > 0).then(|| from + Duration::days(rng.random_range(0..days)))
}

/// Draws the plans of chunk `chunk` (of `n` accounts) of the book of `accounts` accounts and
/// `months` months.
pub fn draw(window: Window, accounts: u64, months: u32, chunk: u64, n: usize) -> Vec<Plan> {
    let seed = accounts
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((months as u64) << 40)
        .wrapping_add(chunk);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plans: Vec<Plan> = Vec::with_capacity(n);
    let yesterday = window.today.pred_opt().unwrap_or(window.today);
    while plans.len() < n {
        let left = n - plans.len();
        if left >= 3 && rng.random_bool(FAMILY_SHARE) {
            let parent = plans.len();
            let company = LAST[rng.random_range(0..LAST.len())];
            let head = one(&mut rng, window, None, Some(format!("{company} Holdings")));
            // Children join while the parent is still a customer.
            let until = head
                .leaves
                .as_ref()
                .map(|l| l.at.date)
                .unwrap_or(window.today);
            let first = head.activated;
            plans.push(head);
            for j in 0..rng.random_range(2..=4usize).min(left - 1) {
                let date = day_in(
                    &mut rng,
                    first.date,
                    until.min(first.date + Duration::days(31)),
                )
                .unwrap_or(first.date)
                .min(yesterday);
                let at = if date == first.date {
                    first.plus_secs(600 * (j as i64 + 1))
                } else {
                    When {
                        date,
                        secs: daytime(&mut rng, 9, 17),
                    }
                };
                let branch = BRANCHES[rng.random_range(0..BRANCHES.len())];
                let name = format!("{company} Holdings - {branch} {}", j + 1);
                plans.push(one(&mut rng, window, Some((parent, at)), Some(name)));
            }
        } else {
            plans.push(one(&mut rng, window, None, None));
        }
    }
    plans
}

/// One account: a residential customer, or (with a name given) a business.
fn one(
    rng: &mut StdRng,
    window: Window,
    child_of: Option<(usize, When)>,
    business: Option<String>,
) -> Plan {
    let activated = match child_of {
        Some((_, at)) => at,
        None => When {
            date: day_in(rng, window.start, window.today).unwrap_or(window.start),
            secs: daytime(rng, 9, 17),
        },
    };
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    // Days until leaving: geometric with the daily chance (at least one day).
    let u: f64 = rng.random();
    let days = 1
        + ((1.0 - u).ln() / (1.0 - LEAVE_PER_DAY).ln())
            .floor()
            .min(1e6) as i64;
    let leave_date = activated.date + Duration::days(days);
    let leaves = (leave_date < window.today).then(|| {
        let at = When {
            date: leave_date,
            secs: daytime(rng, 9, 18),
        };
        let scheduled_at = rng.random_bool(SCHEDULED_SHARE).then(|| {
            let ahead = at.plus_secs(-86_400 * rng.random_range(1..=14i64));
            ahead.max(activated.plus_secs(3600))
        });
        Leave {
            at,
            scheduled_at,
            fee: rng.random_bool(FEE_SHARE),
        }
    });
    let roll: f64 = rng.random();
    let addon_at_start = roll < ADDON_AT_START;
    let addon_later = if (ADDON_AT_START..ADDON_AT_START + ADDON_LATER).contains(&roll) {
        let until = leaves.as_ref().map(|l| l.at.date).unwrap_or(window.today);
        day_in(rng, activated.date + Duration::days(1), until).map(|date| When {
            date,
            secs: daytime(rng, 9, 18),
        })
    } else {
        None
    };
    let pending = (leaves.is_none() && rng.random_bool(PENDING_SHARE)).then(|| {
        When {
            date: window.today + Duration::days(14),
            secs: 0,
        }
        .plus_secs(3600 * rng.random_range(0..720i64))
    });
    let street = STREETS[rng.random_range(0..STREETS.len())];
    Plan {
        activated,
        email_name: format!("{}.{}", first.to_lowercase(), last.to_lowercase()),
        name: business
            .clone()
            .unwrap_or_else(|| format!("{first} {last}")),
        commercial: business.is_some(),
        parent: child_of.map(|(p, _)| p),
        plan: rng.random_range(0..3),
        addon_at_start,
        addon_later,
        leaves,
        pending,
        reuse_address: rng.random_bool(REUSE_SHARE),
        line1: format!("{} {street}", 1 + rng.random_range(0..9999)),
        zip: format!("627{:02}", rng.random_range(0..99)),
        latitude: format!("{:.6}", 39.7 + rng.random_range(0.0..0.2)),
        longitude: format!("{:.6}", -89.7 + rng.random_range(0.0..0.2)),
        marketing_opt_in: rng.random_bool(0.3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window {
            start: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        }
    }

    #[test]
    fn the_same_chunk_is_drawn_the_same_way_twice() {
        let a = draw(window(), 1000, 12, 3, 500);
        let b = draw(window(), 1000, 12, 3, 500);
        assert_eq!(a.len(), 500);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.activated, &x.name, x.plan),
                (y.activated, &y.name, y.plan)
            );
        }
    }

    #[test]
    fn children_join_after_their_parent_and_before_it_leaves() {
        let plans = draw(window(), 100_000, 12, 0, 10_000);
        let mut children = 0;
        for p in &plans {
            assert!(p.activated.date >= window().start && p.activated.date < window().today);
            if let Some(leave) = &p.leaves {
                assert!(leave.at.date > p.activated.date && leave.at.date < window().today);
                if let Some(s) = leave.scheduled_at {
                    assert!(s > p.activated && s < leave.at);
                }
            }
            if let Some(parent) = p.parent {
                children += 1;
                let head = &plans[parent];
                assert!(p.activated > head.activated);
                if let Some(leave) = &head.leaves {
                    assert!(p.activated.date <= leave.at.date);
                }
            }
        }
        assert!(children > 100, "a few percent are children: {children}");
    }
}
