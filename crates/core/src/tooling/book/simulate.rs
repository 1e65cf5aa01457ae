//! Plays a chunk's plans out day by day, as the server would have lived them: each day the
//! billing pass (00:30 local, for the accounts whose cycle falls that day), then the day's
//! activations, service additions, scheduled-event creations and disconnections in order of
//! time. Rows get their ids as they are made, so within a chunk ids follow time, and every
//! later change (a debit invoiced, an address released) is made in place on the row.
//!
//! Money follows the real rules through the real functions: [`services::anchored`] for the
//! cycles, [`invoicing::allocate`] for applying credits, [`proration::credit`] for every
//! prorated amount (see [`super::money`]).

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::plan::{self, Plan, When, Window};
use super::rows::{t, Bases, Chunk};
use crate::entity::{
    account, account_event, account_service, address, contact, log, service,
    serviceable_address_account_assignment_history as history,
};
use crate::error::AppResult;
use crate::service::{base::audit::LogType, lifecycle::addresses::PHYSICAL};

/// What the book is made of: the instance's settings and catalogue, read (or created) once.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub window: Window,
    pub zone: Tz,
    pub accounts: u64,
    pub months: u32,
    pub admin: i64,
    pub company_id: i64,
    pub active_status: i64,
    pub disconnect_status: i64,
    pub residential: i64,
    pub commercial: i64,
    /// Internet plans; one per account.
    pub plans: Vec<service::Model>,
    pub static_ip: service::Model,
    /// A one-time service: the equipment recovery fee charged before some disconnections.
    pub fee: service::Model,
    /// Billing settings: `prorate_account_status_change`, `prorate_services`,
    /// `round_prorated_amounts`.
    pub prorate_disconnects: bool,
    pub prorate_services: bool,
    pub whole_units: bool,
    /// The active voluntary disconnection reasons, in id order: each disconnection gives one,
    /// chosen by its account's id.
    pub reasons: Vec<i64>,
}

impl Ctx {
    /// The reason the disconnection of account `account_id` gives.
    pub fn reason_for(&self, account_id: i64) -> Option<i64> {
        (!self.reasons.is_empty())
            .then(|| self.reasons[account_id.unsigned_abs() as usize % self.reasons.len()])
    }

    /// The UTC instant of a local date and time (a time in a DST gap moves an hour on).
    pub fn instant(&self, w: When) -> DateTime<Utc> {
        let naive =
            w.date.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::seconds(w.secs as i64);
        self.zone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| naive.and_utc())
    }

    pub fn service(&self, id: i64) -> &service::Model {
        self.plans
            .iter()
            .chain([&self.static_ip, &self.fee])
            .find(|s| s.id == id)
            .unwrap_or(&self.fee)
    }
}

/// The moment of the day the billing pass bills the accounts whose cycle falls that day.
pub const PASS_SECS: u32 = 30 * 60;

/// The moment of the day payments come in.
pub const PAY_SECS: u32 = 15 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Pass,
    Pay,
    Activate,
    AddOn,
    Schedule,
    Leave,
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    secs: u32,
    kind: Kind,
    /// The account's position for a pass; the plan's otherwise.
    key: usize,
}

/// An account's running state, beside its row.
#[derive(Debug, Default)]
pub(super) struct Acct {
    pub plan: usize,
    /// Its account services' positions, in id order.
    pub services: Vec<usize>,
    /// Its debits' positions, in id order.
    pub debits: Vec<usize>,
    pub uninvoiced: Vec<usize>,
    /// Its discounts with something left to apply, oldest first.
    pub credits: Vec<usize>,
    /// The positions of its serviceable address and of the assignment's history row.
    pub address: Option<(usize, usize)>,
    /// The scheduled event that will disconnect it.
    pub scheduled: Option<usize>,
}

pub(super) struct Sim<'a> {
    pub ctx: &'a Ctx,
    pub c: Chunk,
    pub plans: Vec<Plan>,
    pub accts: Vec<Acct>,
    of_plan: Vec<Option<usize>>,
    /// Released addresses, with the day they were released, oldest first.
    pub free: VecDeque<(NaiveDate, usize)>,
    days: Vec<Vec<Ev>>,
}

/// Generates chunk `chunk` (its `n` accounts and all their history) with ids from `bases`.
pub fn chunk(ctx: &Ctx, bases: Bases, chunk: u64, n: usize) -> AppResult<Chunk> {
    let plans = plan::draw(ctx.window, ctx.accounts, ctx.months, chunk, n);
    let span = (ctx.window.today - ctx.window.start).num_days().max(0) as usize + 1;
    let mut sim = Sim {
        ctx,
        c: Chunk::new(bases),
        accts: Vec::with_capacity(n),
        of_plan: vec![None; n],
        free: VecDeque::new(),
        days: vec![Vec::new(); span],
        plans,
    };
    sim.c.book_accounts = n as u64;
    for (i, p) in sim.plans.iter().enumerate() {
        let mut evs = vec![(p.activated, Kind::Activate)];
        if let Some(at) = p.addon_later {
            evs.push((at, Kind::AddOn));
        }
        if let Some(leave) = &p.leaves {
            evs.push((leave.at, Kind::Leave));
            if let Some(at) = leave.scheduled_at {
                evs.push((at, Kind::Schedule));
            }
        }
        for (at, kind) in evs {
            let day = sim.day_index(at.date);
            sim.days[day].push(Ev {
                secs: at.secs,
                kind,
                key: i,
            });
        }
    }
    for day in 0..span {
        let mut evs = std::mem::take(&mut sim.days[day]);
        evs.sort_by_key(|e| (e.secs, e.kind, e.key));
        let date = ctx.window.start + Duration::days(day as i64);
        for e in evs {
            let when = When { date, secs: e.secs };
            match e.kind {
                Kind::Pass => sim.bill(e.key, date, ctx.instant(when))?,
                Kind::Pay => sim.pay(e.key, ctx.instant(when)),
                Kind::Activate => sim.activate(e.key)?,
                Kind::AddOn => {
                    let pos = sim.position(e.key);
                    sim.add_service(pos, ctx.static_ip.clone(), when)?;
                }
                Kind::Schedule => sim.schedule(e.key, when),
                Kind::Leave => sim.leave(e.key, when)?,
            }
        }
    }
    sim.schedule_ahead();
    Ok(sim.c)
}

impl Sim<'_> {
    fn day_index(&self, date: NaiveDate) -> usize {
        (date - self.ctx.window.start).num_days().max(0) as usize
    }

    pub fn position(&self, plan: usize) -> usize {
        self.of_plan[plan].expect("an account acts only after its activation")
    }

    /// Queues the billing pass of the account at `pos` for its cycle on `date`, if that is
    /// within the book.
    pub fn queue_pass(&mut self, pos: usize, date: NaiveDate) {
        if date <= self.ctx.window.today && date >= self.ctx.window.start {
            let day = self.day_index(date);
            self.days[day].push(Ev {
                secs: PASS_SECS,
                kind: Kind::Pass,
                key: pos,
            });
        }
    }

    /// Queues the payment of the invoice at `position` on `date` (in the afternoon), if that
    /// is within the book and before today (a later one has not come in yet).
    pub fn queue_payment(&mut self, position: usize, date: NaiveDate) {
        if date < self.ctx.window.today && date >= self.ctx.window.start {
            let day = self.day_index(date);
            self.days[day].push(Ev {
                secs: PAY_SECS,
                kind: Kind::Pay,
                key: position,
            });
        }
    }

    /// An audit row, as [`crate::service::base::audit::record`] writes it, by the admin user.
    #[allow(clippy::too_many_arguments)]
    pub fn log(
        &mut self,
        kind: LogType,
        loggable_type: &str,
        loggable_id: i64,
        previous: Option<String>,
        current: Option<String>,
        message: String,
        at: DateTime<Utc>,
    ) {
        let id = self.c.next_id(t::LOGS);
        self.c.logs.push(log::Model {
            id,
            r#type: kind.as_str().into(),
            loggable_type: loggable_type.into(),
            loggable_id,
            user_id: Some(self.ctx.admin),
            previous,
            current,
            message: Some(message),
            created_at: at,
            updated_at: at,
            version: 1,
        });
    }

    pub fn event(
        &mut self,
        account_id: i64,
        event: &str,
        previous: Option<String>,
        current: Option<String>,
        at: DateTime<Utc>,
    ) {
        let id = self.c.next_id(t::ACCOUNT_EVENTS);
        self.c.account_events.push(account_event::Model {
            id,
            account_id,
            event: event.into(),
            event_datetime: at,
            previous,
            current,
            created_at: at,
            updated_at: at,
            version: 1,
        });
    }

    /// `createServiceableAddress`, then `createAccount` with it (or with an address a former
    /// customer left) and its primary contact, `addServiceToAccount` for its plan (and a static
    /// IP), `linkAccounts` for a child, and the billing pass of its first cycle.
    fn activate(&mut self, p: usize) -> AppResult<()> {
        let ctx = self.ctx;
        let plan = self.plans[p].clone();
        let when = plan.activated;
        let at = ctx.instant(when);
        let reused = match self.free.front() {
            Some((released, _)) if plan.reuse_address && *released < when.date => {
                self.free.pop_front().map(|(_, a)| a)
            }
            _ => None,
        };
        let address = match reused {
            Some(a) => a,
            None => self.new_address(&plan, ctx.instant(when.plus_secs(-120))),
        };
        let id = self.c.next_id(t::ACCOUNTS);
        let pos = self.c.accounts.len();
        self.of_plan[p] = Some(pos);
        let model = account::Model {
            id,
            name: plan.name.clone(),
            account_status_id: ctx.active_status,
            account_type_id: if plan.commercial {
                ctx.commercial
            } else {
                ctx.residential
            },
            company_id: ctx.company_id,
            parent_account_id: None,
            activation_date: Some(when.date),
            activation_time: Some(at.with_timezone(&ctx.zone).format("%H:%M:%S").to_string()),
            next_bill_date: Some(when.date),
            archived_at: None,
            archived_by_user_id: None,
            is_delinquent: false,
            is_eligible_for_archive: None,
            data_usage_percentage: None,
            geopoint: None,
            next_recurring_charge_amount: None,
            billing_day: Some(when.date.day() as i32),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        self.event(
            id,
            "ACTIVATED",
            None,
            Some(ctx.active_status.to_string()),
            at,
        );
        let contact_id = self.c.next_id(t::CONTACTS);
        self.c.contacts.push(contact::Model {
            id: contact_id,
            contactable_type: "Account".into(),
            contactable_id: id,
            name: plan.name.clone(),
            role: plan.commercial.then(|| "Accounts payable".into()),
            email_address: Some(format!("{}{id}@example.com", plan.email_name)),
            language: None,
            marketing_opt_in: Some(plan.marketing_opt_in),
            primary: true,
            username: None,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let a = &mut self.c.addresses[address];
        a.addressable_id = Some(id);
        a.addressable_type = Some("Account".into());
        a.updated_at = at;
        a.version += 1;
        let address_id = a.id;
        let history_id = self.c.next_id(t::HISTORIES);
        self.c.histories.push(history::Model {
            id: history_id,
            address_id,
            account_id: id,
            start_date: when.date,
            end_date: None,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let json = serde_json::to_string(&model).ok();
        self.log(
            LogType::Created,
            "Account",
            id,
            None,
            json,
            "Account created".into(),
            at,
        );
        self.c.accounts.push(model);
        self.accts.push(Acct {
            plan: p,
            address: Some((address, self.c.histories.len() - 1)),
            ..Default::default()
        });

        let service = ctx.plans[plan.plan % ctx.plans.len()].clone();
        self.add_service(pos, service, when.plus_secs(60))?;
        if plan.addon_at_start {
            self.add_service(pos, ctx.static_ip.clone(), when.plus_secs(120))?;
        }
        if let Some(parent) = plan.parent {
            self.link(self.position(parent), pos, ctx.instant(when.plus_secs(180)));
        }
        self.bill(pos, when.date, ctx.instant(when.plus_secs(1800)))
    }

    fn new_address(&mut self, plan: &Plan, at: DateTime<Utc>) -> usize {
        let id = self.c.next_id(t::ADDRESSES);
        let model = address::Model {
            id,
            addressable_type: None,
            addressable_id: None,
            r#type: PHYSICAL.into(),
            serviceable: true,
            line1: Some(plan.line1.clone()),
            line2: None,
            city: Some("Springfield".into()),
            subdivision: Some("US_IL".into()),
            zip: Some(plan.zip.clone()),
            country: Some("US".into()),
            county: None,
            latitude: Some(plan.latitude.clone()),
            longitude: Some(plan.longitude.clone()),
            timezone: Some("AMERICACHICAGO".into()),
            address_status_id: None,
            is_anchor: false,
            anchor_address_id: None,
            billing_default_id: None,
            attainable_download_speed: Some(1000),
            attainable_upload_speed: Some(1000),
            avalara_pcode: None,
            census_year: None,
            fips: None,
            fips_source: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let json = serde_json::to_string(&model).ok();
        self.log(
            LogType::Created,
            "Address",
            id,
            None,
            json,
            "Address created".into(),
            at,
        );
        self.c.addresses.push(model);
        self.c.addresses.len() - 1
    }

    /// `linkAccounts(parent, child)`.
    fn link(&mut self, parent: usize, child: usize, at: DateTime<Utc>) {
        let parent_id = self.c.accounts[parent].id;
        let old = self.c.accounts[child].clone();
        let new = &mut self.c.accounts[child];
        new.parent_account_id = Some(parent_id);
        new.version += 1;
        new.updated_at = at;
        let (previous, current) = (
            serde_json::to_string(&old).ok(),
            serde_json::to_string(&*new).ok(),
        );
        self.log(
            LogType::Attached,
            "Account",
            old.id,
            previous,
            current,
            format!("account {} linked to parent {parent_id}", old.id),
            at,
        );
    }

    /// `addServiceToAccount`: the account service, and when the current period is already
    /// billed, a prorated debit for the rest of it (see [`super::money`]).
    pub fn add_service(
        &mut self,
        pos: usize,
        service: service::Model,
        when: When,
    ) -> AppResult<()> {
        let at = self.ctx.instant(when);
        let account_id = self.c.accounts[pos].id;
        let id = self.c.next_id(t::ACCOUNT_SERVICES);
        self.c.account_services.push(account_service::Model {
            id,
            account_id,
            service_id: service.id,
            quantity: 1,
            price_override: None,
            price_override_reason: None,
            name_override: None,
            next_bill_date: self.c.accounts[pos].next_bill_date,
            addition_prorate_date: None,
            data_usage_last_calculated_date: None,
            number_of_times_billed: 0,
            package_id: None,
            unique_package_relationship_id: None,
            removed_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let as_pos = self.c.account_services.len() - 1;
        self.accts[pos].services.push(as_pos);
        self.charge_rest_of_period(pos, as_pos, &service, when.date, at)?;
        self.refresh_next_charge(pos);
        self.event(
            account_id,
            "SERVICES_ADDED",
            None,
            Some(service.id.to_string()),
            at,
        );
        let json = serde_json::to_string(&self.c.account_services[as_pos]).ok();
        self.log(
            LogType::Created,
            "AccountService",
            id,
            None,
            json,
            "AccountService created".into(),
            at,
        );
        Ok(())
    }
}
