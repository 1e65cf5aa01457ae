//! Leaving: disconnections as `disconnectAccount` (steps 1–8 of DESIGN §5, in the order
//! [`crate::service::lifecycle::disconnect::apply`] writes them) or a scheduled `DISCONNECT_ACCOUNT` event
//! carries them out, an equipment fee before some of them, and the disconnections scheduled
//! ahead. Credits come from [`proration::credit`]; the final invoice from [`Sim::write_invoice`].

use chrono::{DateTime, NaiveDate, Utc};

use super::plan::When;
use super::rows::t;
use super::simulate::Sim;
use crate::domain::{EventKind, ServiceType};
use crate::entity::{debit, disconnection_log, discount, scheduled_event};
use crate::error::AppResult;
use crate::service::{
    base::audit::LogType,
    billing::{proration, services::price},
    lifecycle::{
        addresses,
        disconnect::{self, ProrationSource},
    },
};

impl Sim<'_> {
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
                r#type: ServiceType::OneTime.into(),
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
                reactivation_account_event_id: None,
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
        // What its recurring services come to per month, as `disconnect::plan` reads it.
        let monthly_recurring_amount: i64 = self.accts[pos]
            .services
            .iter()
            .map(|a| &self.c.account_services[*a])
            .filter(|a| a.removed_at.is_none())
            .filter_map(|a| {
                let service = ctx.service(a.service_id);
                (service.r#type == ServiceType::Recurring.as_str()).then(|| {
                    let sign = if service.application == "CREDIT" {
                        -1
                    } else {
                        1
                    };
                    disconnect::per_month(
                        sign * price(service, a),
                        service.billing_frequency.unwrap_or(1),
                    )
                })
            })
            .sum();

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
                if to <= date || d.reversed || d.r#type != ServiceType::Recurring {
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
            for_non_payment: false,
            disconnection_reason_id: scheduled
                .and_then(|e| self.c.scheduled_events[e].disconnection_reason_id)
                .or(ctx.reason_for(before.id)),
            comment: None,
            monthly_recurring_amount,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let message = format!(
            "account disconnected (final invoice {}, {credits} credit(s), 0 scheduled disconnection(s) cancelled)",
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

    /// `createScheduledEvent(DISCONNECT_ACCOUNT)` for the account's coming disconnection.
    pub fn schedule(&mut self, p: usize, when: When) {
        let Some(leave_at) = self.plans[p].leaves.as_ref().map(|l| l.at) else {
            return;
        };
        let pos = self.position(p);
        let event = self.new_event(pos, self.ctx.instant(leave_at), when);
        self.accts[pos].scheduled = Some(event);
    }

    fn new_event(&mut self, pos: usize, datetime: DateTime<Utc>, when: When) -> usize {
        let at = self.ctx.instant(when);
        let id = self.c.next_id(t::SCHEDULED_EVENTS);
        let model = scheduled_event::Model {
            id,
            account_id: self.c.accounts[pos].id,
            event: EventKind::DisconnectAccount.into(),
            datetime,
            description: Some("moving away".into()),
            primary_event_object_id: None,
            amount: None,
            prorate: None,
            status: "PENDING".into(),
            complete: false,
            executed_at: None,
            result_message: None,
            attempts: 0,
            next_attempt_at: None,
            created_by_user_id: self.ctx.admin,
            disconnection_reason_id: self.ctx.reason_for(self.c.accounts[pos].id),
            comment: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let json = serde_json::to_string(&model).ok();
        self.log(
            LogType::Created,
            "ScheduledEvent",
            id,
            None,
            json,
            "ScheduledEvent created".into(),
            at,
        );
        self.c.scheduled_events.push(model);
        self.c.scheduled_events.len() - 1
    }

    /// The disconnections scheduled ahead, created the evening before the book ends.
    pub fn schedule_ahead(&mut self) {
        let created = When {
            date: self
                .ctx
                .window
                .today
                .pred_opt()
                .unwrap_or(self.ctx.window.today),
            secs: 18 * 3600,
        };
        for pos in 0..self.accts.len() {
            if let Some(ahead) = self.plans[self.accts[pos].plan].pending {
                let datetime = self.ctx.instant(ahead);
                self.new_event(pos, datetime, created);
            }
        }
    }
}
