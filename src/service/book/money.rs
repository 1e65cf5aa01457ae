//! The money of the simulated book, rule for rule as the service layer writes it: the billing
//! pass ([`crate::service::billing::bill_account`]), a service added mid-period
//! ([`crate::service::services::add_service_to_account_in`]), invoices
//! ([`crate::service::invoicing::write_invoice`]) and disconnections
//! ([`crate::service::disconnect`], steps 1–8). Where those functions read and write rows, these
//! work on the chunk's rows in memory; the arithmetic is the same functions': cycles from
//! [`anchored`], credits applied by [`invoicing::allocate`], every prorated amount from
//! [`proration::credit`] (half away from zero).
//!
//! What they leave out is the billing pass's audit rows (a `SYSTEM` row for the account and one
//! for the invoice, every account every month): see the module documentation of
//! [`super`].

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::plan::When;
use super::rows::t;
use super::simulate::Sim;
use crate::entity::{
    debit, disconnection_log, discount, invoice, invoice_discount_application as application,
    service,
};
use crate::error::AppResult;
use crate::service::audit::LogType;
use crate::service::disconnect::ProrationSource;
use crate::service::services::{anchored, billing_day, price, ONETIME, RECURRING};
use crate::service::{addresses, invoicing, proration};

impl Sim<'_> {
    /// The billing pass for `date` on the account at `pos`: every cycle up to `date` bills each
    /// recurring account service due in it, then one invoice takes the uninvoiced debits and
    /// `next_bill_date` moves on.
    pub fn bill(&mut self, pos: usize, date: NaiveDate, at: DateTime<Utc>) -> AppResult<()> {
        let account = &self.c.accounts[pos];
        let Some(mut cycle) = account.next_bill_date.filter(|d| *d <= date) else {
            return Ok(());
        };
        if account.account_status_id != self.ctx.active_status || account.archived_at.is_some() {
            return Ok(());
        }
        let day = billing_day(account, cycle);
        while cycle <= date {
            for i in 0..self.accts[pos].services.len() {
                let as_pos = self.accts[pos].services[i];
                let account_service = &self.c.account_services[as_pos];
                let service = self.ctx.service(account_service.service_id).clone();
                let Some(frequency) = service.billing_frequency else {
                    continue;
                };
                if account_service.next_bill_date.is_some_and(|d| d > cycle) {
                    continue;
                }
                let next = anchored(cycle, frequency, day)?;
                let to = next.pred_opt().unwrap_or(cycle);
                let amount = price(&service, account_service);
                self.insert_debit(pos, &service, Some(as_pos), amount, cycle, to, false, at);
                let account_service = &mut self.c.account_services[as_pos];
                account_service.next_bill_date = Some(next);
                account_service.number_of_times_billed += 1;
                account_service.version += 1;
                account_service.updated_at = at;
            }
            cycle = anchored(cycle, 1, day)?;
        }
        if !self.accts[pos].uninvoiced.is_empty() {
            self.write_invoice(pos, date, None, at);
        }
        let account = &mut self.c.accounts[pos];
        account.next_bill_date = Some(cycle);
        account.version += 1;
        account.updated_at = at;
        self.refresh_next_charge(pos);
        self.queue_pass(pos, cycle);
        Ok(())
    }

    /// A recurring debit for `[from, to]` (`by_user`: charged by a mutation rather than the
    /// pass), uninvoiced.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_debit(
        &mut self,
        pos: usize,
        service: &service::Model,
        account_service: Option<usize>,
        amount: i64,
        from: NaiveDate,
        to: NaiveDate,
        by_user: bool,
        at: DateTime<Utc>,
    ) {
        let account = &self.c.accounts[pos];
        let id = self.c.next_id(t::DEBITS);
        let (name, quantity, account_service_id) = match account_service {
            Some(a) => {
                let a = &self.c.account_services[a];
                (
                    a.name_override
                        .clone()
                        .unwrap_or_else(|| service.name.clone()),
                    a.quantity,
                    Some(a.id),
                )
            }
            None => (service.name.clone(), 1, None),
        };
        self.c.debits.push(debit::Model {
            id,
            account_id: account.id,
            company_id: account.company_id,
            service_id: service.id,
            account_service_id,
            invoice_id: None,
            amount,
            quantity,
            description: Some(format!("{name} {from} to {to}")),
            service_name: name,
            r#type: service.r#type.clone(),
            number_of_months: service.billing_frequency.unwrap_or(1),
            prorated_from: Some(from),
            prorated_to: Some(to),
            quantity_prorated_from: None,
            quantity_prorated_to: None,
            reversed: false,
            reversed_at: None,
            reversed_by_user_id: None,
            user_id: by_user.then_some(self.ctx.admin),
            linked_debit_id: None,
            general_ledger_code: None,
            general_ledger_code_description: None,
            minutes: None,
            service_transaction_type: None,
            voice_service_generic_parameter_id: None,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let d = self.c.debits.len() - 1;
        self.accts[pos].debits.push(d);
        self.accts[pos].uninvoiced.push(d);
    }

    /// `addServiceToAccount`'s proration: when the account's current period is already billed
    /// (`next_bill_date` after `start`) and billing settings prorate services, each period
    /// billed since `start` is charged from `start`, prorated by [`proration::credit`].
    pub fn charge_rest_of_period(
        &mut self,
        pos: usize,
        as_pos: usize,
        service: &service::Model,
        start: NaiveDate,
        at: DateTime<Utc>,
    ) -> AppResult<()> {
        let account = &self.c.accounts[pos];
        let active = account.account_status_id == self.ctx.active_status;
        let Some(next_bill) = account
            .next_bill_date
            .filter(|n| *n > start && active && self.ctx.prorate_services)
        else {
            return Ok(());
        };
        let Some(frequency) = service.billing_frequency else {
            return Ok(());
        };
        let day = billing_day(account, next_bill);
        let full = price(service, &self.c.account_services[as_pos]);
        let mut period_end = next_bill;
        let mut first_charged = None;
        for _ in 0..120 {
            let period_from = anchored(period_end, -frequency, day)?;
            let period_to = period_end.pred_opt().unwrap_or(period_end);
            let charged_from = Ord::max(start, period_from);
            if charged_from <= period_to {
                let day_before = charged_from.pred_opt().unwrap_or(charged_from);
                let amount = proration::credit(
                    full,
                    period_from,
                    period_to,
                    day_before,
                    self.ctx.whole_units,
                );
                self.insert_debit(
                    pos,
                    service,
                    Some(as_pos),
                    amount,
                    charged_from,
                    period_to,
                    true,
                    at,
                );
                first_charged = Some(charged_from);
            }
            if start >= period_from {
                break;
            }
            period_end = period_from;
        }
        if first_charged.is_some() {
            self.c.account_services[as_pos].addition_prorate_date = first_charged;
        }
        Ok(())
    }

    /// `Account.next_recurring_charge_amount`: what the next pass will charge (0 when the
    /// account is not billed).
    pub fn refresh_next_charge(&mut self, pos: usize) {
        let account = &self.c.accounts[pos];
        let total = match account.next_bill_date {
            Some(next) if account.account_status_id == self.ctx.active_status => self.accts[pos]
                .services
                .iter()
                .map(|a| &self.c.account_services[*a])
                .filter(|a| a.removed_at.is_none() && a.next_bill_date.is_none_or(|d| d <= next))
                .map(|a| price(self.ctx.service(a.service_id), a))
                .sum(),
            _ => 0,
        };
        self.c.accounts[pos].next_recurring_charge_amount = Some(total);
    }

    /// An invoice of all the account's uninvoiced debits, applying its unapplied credits
    /// oldest first up to the total. Returns its position. Only an invoice made by a user (the
    /// final invoice) writes an audit row; the pass's are among those left out.
    pub fn write_invoice(
        &mut self,
        pos: usize,
        date: NaiveDate,
        user_message: Option<String>,
        at: DateTime<Utc>,
    ) -> usize {
        let debits = std::mem::take(&mut self.accts[pos].uninvoiced);
        let total: i64 = debits.iter().map(|d| self.c.debits[*d].amount).sum();
        let credits = std::mem::take(&mut self.accts[pos].credits);
        let remaining: Vec<i64> = credits
            .iter()
            .map(|x| self.c.discounts[*x].amount_remaining)
            .collect();
        let applied = invoicing::allocate(total, &remaining);
        let applied_total: i64 = applied.iter().sum();
        let end_date = debits
            .iter()
            .filter_map(|d| self.c.debits[*d].prorated_to)
            .max()
            .unwrap_or(date)
            .max(date);
        let months = debits
            .iter()
            .map(|d| self.c.debits[*d].number_of_months)
            .max()
            .unwrap_or(0)
            .max(1);
        let remaining_due = total - applied_total;
        let account = &self.c.accounts[pos];
        let id = self.c.next_id(t::INVOICES);
        let model = invoice::Model {
            id,
            account_id: account.id,
            company_id: account.company_id,
            date,
            due_date: date + Duration::days(invoicing::DEFAULT_DUE_DAYS),
            end_date,
            total_debits: total,
            remaining_due,
            total_taxes: 0,
            child_invoice_remaining_due: 0,
            status: if remaining_due == 0 { "PAID" } else { "UNPAID" }.into(),
            message: user_message.clone(),
            number_of_months: months,
            void: false,
            voided_at: None,
            frozen: false,
            delinquent: false,
            delinquency_date: None,
            late_fee_applied: false,
            late_fee_only: false,
            pending_email: false,
            tax_committed: false,
            tax_provider_id: None,
            auto_pay_attempts: 0,
            auto_pay_date: None,
            invoice_template_version_id: None,
            parent_invoice_id: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        for d in &debits {
            let debit = &mut self.c.debits[*d];
            debit.invoice_id = Some(id);
            debit.updated_at = at;
            debit.version += 1;
        }
        for (x, amount) in credits.iter().zip(applied) {
            if amount > 0 {
                let credit = &mut self.c.discounts[*x];
                credit.amount_remaining -= amount;
                credit.updated_at = at;
                credit.version += 1;
                let discount_id = credit.id;
                let app_id = self.c.next_id(t::APPLICATIONS);
                self.c.applications.push(application::Model {
                    id: app_id,
                    invoice_id: id,
                    discount_id,
                    amount,
                    created_at: at,
                    updated_at: at,
                    version: 1,
                });
            }
            if self.c.discounts[*x].amount_remaining > 0 {
                self.accts[pos].credits.push(*x);
            }
        }
        if user_message.is_some() {
            let json = serde_json::to_string(&model).ok();
            let message = format!(
                "invoice of {} debit(s) for account {}",
                debits.len(),
                model.account_id
            );
            self.log(LogType::Created, "Invoice", id, None, json, message, at);
        }
        self.c.invoices.push(model);
        self.c.invoices.len() - 1
    }

    /// The account leaves at `when`: an equipment fee first for some (a one-time debit, as
    /// `createAccountOneTimeTransaction` makes it), then the disconnection, directly or by its
    /// scheduled event.
    pub fn leave(&mut self, p: usize, when: When) -> AppResult<()> {
        let Some(leave) = self.plans[p].leaves.clone() else {
            return Ok(());
        };
        let pos = self.position(p);
        let at = self.ctx.instant(when);
        if leave.fee {
            let fee_at = self.ctx.instant(when.plus_secs(-300));
            let fee = self.ctx.fee.clone();
            let account = &self.c.accounts[pos];
            let id = self.c.next_id(t::DEBITS);
            let model = debit::Model {
                id,
                account_id: account.id,
                company_id: account.company_id,
                service_id: fee.id,
                account_service_id: None,
                invoice_id: None,
                amount: fee.amount,
                quantity: 1,
                description: Some(fee.name.clone()),
                service_name: fee.name.clone(),
                r#type: ONETIME.into(),
                number_of_months: 0,
                prorated_from: None,
                prorated_to: None,
                quantity_prorated_from: None,
                quantity_prorated_to: None,
                reversed: false,
                reversed_at: None,
                reversed_by_user_id: None,
                user_id: Some(self.ctx.admin),
                linked_debit_id: None,
                general_ledger_code: None,
                general_ledger_code_description: None,
                minutes: None,
                service_transaction_type: None,
                voice_service_generic_parameter_id: None,
                created_at: fee_at,
                updated_at: fee_at,
                version: 1,
            };
            let json = serde_json::to_string(&model).ok();
            self.log(
                LogType::Created,
                "Debit",
                id,
                None,
                json,
                "Debit created".into(),
                fee_at,
            );
            self.c.debits.push(model);
            let d = self.c.debits.len() - 1;
            self.accts[pos].debits.push(d);
            self.accts[pos].uninvoiced.push(d);
        }
        self.disconnect(pos, when.date, at);
        Ok(())
    }

    /// `disconnectAccount` (or its scheduled event) effective at `at`, local date `date`,
    /// without `prorate`: billing settings decide.
    fn disconnect(&mut self, pos: usize, date: NaiveDate, at: DateTime<Utc>) {
        let ctx = self.ctx;
        let before = self.c.accounts[pos].clone();
        let scheduled = self.accts[pos].scheduled.take();

        // Step 6 first, as `apply` does: the status, which also stops billing.
        self.event(
            before.id,
            "STATUS_UPDATED",
            Some(before.account_status_id.to_string()),
            Some(ctx.disconnect_status.to_string()),
            at,
        );
        for a in &self.accts[pos].services {
            let account_service = &mut self.c.account_services[*a];
            if account_service.removed_at.is_none() {
                account_service.next_bill_date = None;
            }
        }
        let account = &mut self.c.accounts[pos];
        account.account_status_id = ctx.disconnect_status;
        account.next_bill_date = None;
        account.version += 1;
        account.updated_at = at;
        let disconnected = account.clone();

        // Step 3: a credit for the unused days of every recurring debit billed past the date.
        let mut credit_total = 0;
        let mut credits = 0;
        if ctx.prorate_disconnects {
            for i in 0..self.accts[pos].debits.len() {
                let d = &self.c.debits[self.accts[pos].debits[i]];
                let (Some(from), Some(to)) = (d.prorated_from, d.prorated_to) else {
                    continue;
                };
                if to <= date || d.reversed || d.r#type != RECURRING {
                    continue;
                }
                let amount = proration::credit(d.amount, from, to, date, ctx.whole_units);
                if amount == 0 {
                    continue;
                }
                let id = self.c.next_id(t::DISCOUNTS);
                let model = discount::Model {
                    id,
                    account_id: d.account_id,
                    company_id: d.company_id,
                    service_id: Some(d.service_id),
                    debit_id: Some(d.id),
                    amount,
                    amount_remaining: amount,
                    description: Some(format!("Proration credit for {}", d.service_name)),
                    service_name: d.service_name.clone(),
                    r#type: d.r#type.clone(),
                    prorated_from: Some(date.succ_opt().unwrap_or(date).max(from)),
                    prorated_to: Some(to),
                    quantity: d.quantity,
                    quantity_prorated_from: None,
                    quantity_prorated_to: None,
                    reversed: false,
                    reversed_at: None,
                    reversed_by_user_id: None,
                    user_id: Some(ctx.admin),
                    general_ledger_code: None,
                    general_ledger_code_description: None,
                    minutes: None,
                    service_transaction_type: None,
                    tax_committed: false,
                    tax_provider_id: None,
                    created_at: at,
                    updated_at: at,
                    version: 1,
                };
                credit_total += amount;
                credits += 1;
                self.c.discounts.push(model);
                let x = self.c.discounts.len() - 1;
                self.accts[pos].credits.push(x);
            }
        }

        // Step 4: the final invoice, when something is uninvoiced.
        let final_invoice = (!self.accts[pos].uninvoiced.is_empty())
            .then(|| self.write_invoice(pos, date, Some("Final invoice".into()), at))
            .map(|i| self.c.invoices[i].id);

        // Step 5: the address is released, its history row ends.
        let mut address_id = None;
        let mut snapshot = None;
        if let Some((a, h)) = self.accts[pos].address.take() {
            let address = &mut self.c.addresses[a];
            address.addressable_id = None;
            address.addressable_type = None;
            address.updated_at = at;
            address.version += 1;
            address_id = Some(address.id);
            snapshot = Some(addresses::snapshot(address));
            let history = &mut self.c.histories[h];
            history.end_date = Some(date);
            history.updated_at = at;
            history.version += 1;
            self.free.push_back((date, a));
        }
        self.refresh_next_charge(pos);

        // Step 7: the log; then the scheduled event is done (by the worker, as its creator).
        let log_id = self.c.next_id(t::DISCONNECTION_LOGS);
        self.c.disconnection_logs.push(disconnection_log::Model {
            id: log_id,
            account_id: before.id,
            disconnected_at: at,
            disconnected_by_user_id: ctx.admin,
            serviceable_address_id: address_id,
            serviceable_address_reference_record: snapshot,
            final_invoice_id: final_invoice,
            prorated: ctx.prorate_disconnects,
            proration_source: ProrationSource::BillingSettings.as_str().into(),
            previous_account_status_id: before.account_status_id,
            account_status_id: ctx.disconnect_status,
            scheduled_event_id: scheduled.map(|e| self.c.scheduled_events[e].id),
            credit_total,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let message = format!(
            "account disconnected (log {log_id}, final invoice {}, {credits} credit(s))",
            final_invoice
                .map(|i| i.to_string())
                .unwrap_or_else(|| "none".into())
        );
        let (previous, current) = (
            serde_json::to_string(&before).ok(),
            serde_json::to_string(&disconnected).ok(),
        );
        self.log(
            LogType::Updated,
            "Account",
            before.id,
            previous,
            current,
            message,
            at,
        );
        if let Some(e) = scheduled {
            let event = &mut self.c.scheduled_events[e];
            let message = format!("account {} disconnected", before.id);
            event.status = "COMPLETED".into();
            event.complete = true;
            event.executed_at = Some(at);
            event.result_message = Some(message.clone());
            event.attempts = 1;
            event.updated_at = at;
            event.version += 1;
            let id = event.id;
            self.log(
                LogType::System,
                "ScheduledEvent",
                id,
                None,
                None,
                format!("COMPLETED: {message}"),
                at,
            );
        }
    }
}
