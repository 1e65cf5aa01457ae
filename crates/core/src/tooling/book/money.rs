//! The money of the simulated book, rule for rule as the service layer writes it: the billing
//! pass ([`crate::service::billing::pass::bill_account`]), a service added mid-period
//! ([`crate::service::billing::services::add_service_to_account_in`]), invoices
//! ([`crate::service::billing::invoicing::write_invoice`]); disconnections are in [`super::leave`].
//! Where those functions read and write rows, these work on the chunk's rows in memory; the
//! arithmetic is the same functions': cycles from
//! [`anchored`], credits applied by [`invoicing::allocate`], every prorated amount from
//! [`proration::credit`] (half away from zero).
//!
//! What they leave out is the billing pass's audit rows (a `SYSTEM` row for the account and one
//! for the invoice, every account every month): see the module documentation of
//! [`super`].

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::rows::t;
use super::simulate::Sim;
use crate::entity::{
    debit, invoice, invoice_discount_application as application,
    invoice_payment_application as payment_application, payment, service,
};
use crate::error::AppResult;
use crate::service::{
    base::audit::LogType,
    billing::{
        invoicing,
        services::{anchored, billing_day, catch_up_charges, price},
    },
};

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
            reactivation_account_event_id: None,
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
        let charges = catch_up_charges(
            next_bill,
            start,
            frequency,
            billing_day(account, next_bill),
            price(service, &self.c.account_services[as_pos]),
            self.ctx.whole_units,
        )?;
        for charge in &charges {
            self.insert_debit(
                pos,
                service,
                Some(as_pos),
                charge.amount,
                charge.from,
                charge.to,
                true,
                at,
            );
        }
        if let Some(first) = charges.last() {
            self.c.account_services[as_pos].addition_prorate_date = Some(first.from);
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
        let due_date = date + Duration::days(invoicing::DEFAULT_DUE_DAYS);
        let model = invoice::Model {
            id,
            account_id: account.id,
            company_id: account.company_id,
            date,
            due_date,
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
            // No grace: the seeded book has no billing defaults.
            delinquency_date: Some(due_date),
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
                    undone: false,
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
        let position = self.c.invoices.len() - 1;
        if remaining_due > 0 {
            if let Some(when) = payment_day(self.c.accounts[pos].id, id, date, due_date) {
                self.queue_payment(position, when);
            }
        }
        position
    }

    /// `createPayment` of what the invoice at `position` owes, applied to it: one payment, one
    /// application, the invoice paid (its audit rows are left out, as the billing pass's are).
    pub fn pay(&mut self, position: usize, at: DateTime<Utc>) {
        let invoice = &self.c.invoices[position];
        let amount = invoice.remaining_due;
        if amount <= 0 {
            return;
        }
        let (invoice_id, account_id, company_id) =
            (invoice.id, invoice.account_id, invoice.company_id);
        let id = self.c.next_id(t::PAYMENTS);
        self.c.payments.push(payment::Model {
            id,
            account_id,
            company_id,
            amount,
            amount_remaining: 0,
            payment_type: if id % 3 == 0 { "CASH" } else { "CHECK" }.into(),
            payment_datetime: at,
            reference: None,
            description: None,
            payment_tracker_id: None,
            transaction_id: None,
            status: "SUCCEEDED".into(),
            successful: true,
            reversed: false,
            user_id: Some(self.ctx.admin),
            bank_account_id: None,
            credit_card_id: None,
            deposit_slip_id: None,
            creation_token: None,
            fee: None,
            fractional_fee: None,
            full_processor_response: None,
            is_autopay: None,
            passed_3ds_check: None,
            passed_avs_check: None,
            passed_cvv_check: None,
            processor_message: None,
            processor_status: None,
            created_at: at,
            updated_at: at,
            version: 1,
        });
        let application_id = self.c.next_id(t::PAYMENT_APPLICATIONS);
        self.c
            .payment_applications
            .push(payment_application::Model {
                id: application_id,
                invoice_id,
                payment_id: id,
                amount,
                undone: false,
                created_at: at,
                updated_at: at,
                version: 1,
            });
        let invoice = &mut self.c.invoices[position];
        invoice.remaining_due = 0;
        invoice.status = invoicing::status_of(0).into();
        invoice.updated_at = at;
        invoice.version += 1;
    }
}

/// When the account `account_id` pays its invoice `invoice_id` (dated `date`, due `due`): most
/// accounts (90 in 100) pay every invoice 1 to 13 days after its date, 8 in 100 pay 5 to 44
/// days after it is due, and 2 in 100 never pay. Drawn from the ids, so a book is the same
/// whenever it is made.
pub fn payment_day(
    account_id: i64,
    invoice_id: i64,
    date: NaiveDate,
    due: NaiveDate,
) -> Option<NaiveDate> {
    let mix = |x: i64| (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
    let habit = mix(account_id) % 100;
    let draw = mix(invoice_id ^ 0x5bd1_e995) as i64;
    match habit {
        0..=89 => Some(date + Duration::days(1 + draw % 13)),
        90..=97 => Some(due + Duration::days(5 + draw % 40)),
        _ => None,
    }
}
