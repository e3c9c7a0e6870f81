//! The fakes the simulator drives: a clock it advances, and a payment provider that behaves
//! like Stripe (idempotency keys, refunds bounded by the payment) and can be told to fail.
//!
//! A simulated crash is a panic carrying [`SimCrash`]: it unwinds out of whatever the service
//! was doing at that moment, exactly where a `kill -9` would have stopped it, and the world
//! then drops the service and its store and opens new ones on the same file.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use escrow::domain::{ContractId, PaymentRef, RefundRef};
use escrow::payment::{
    AccountLinkRequest, AccountRequest, CheckoutRequest, CheckoutSession, PaymentError,
    PaymentProvider, RefundRequest, RefundResult, TransferRequest, TransferResult,
};
use escrow::service::Clock;

/// The panic payload of a simulated crash; the text names the crash site.
#[derive(Debug)]
pub struct SimCrash(pub String);

pub fn crash(site: impl Into<String>) -> ! {
    std::panic::panic_any(SimCrash(site.into()))
}

/// Silences the default panic message for simulated crashes (they are expected and counted);
/// every other panic is printed as usual.
pub fn install_quiet_crash_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().is::<SimCrash>() {
                return;
            }
            default(info)
        }));
    });
}

/// Unix milliseconds, moved only by the simulator.
pub struct FakeClock {
    now_ms: AtomicI64,
}

impl FakeClock {
    pub fn new(start_ms: i64) -> FakeClock {
        FakeClock {
            now_ms: AtomicI64::new(start_ms),
        }
    }

    pub fn advance(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// What the next refund call for a contract does instead of simply succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No answer in time; nothing happened at the provider.
    Timeout,
    /// A 4xx; nothing happened at the provider.
    Reject,
    /// The provider refunded, then the connection dropped: the caller sees an error.
    LostAnswer,
    /// The service dies just before the request leaves.
    CrashBeforeCall,
    /// The provider refunded and the service dies before it reads the answer.
    CrashAfterCall,
    /// The provider takes the refund and answers `pending`: how it ends comes later
    /// (`refund.updated`). Refunds only; a transfer meets no fault.
    AnswerPending,
    /// The provider answers the refund `failed` at once. Refunds only.
    AnswerFailed,
    /// The provider takes the refund as pending, then the connection drops: the caller sees
    /// an error, and Stripe's word on the refund names one the store does not know.
    LostPendingAnswer,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::Timeout,
        Fault::Reject,
        Fault::LostAnswer,
        Fault::CrashBeforeCall,
        Fault::CrashAfterCall,
    ];

    /// What a refund call may meet: every fault, and the provider's other answers.
    pub const REFUND: [Fault; 8] = [
        Fault::Timeout,
        Fault::Reject,
        Fault::LostAnswer,
        Fault::CrashBeforeCall,
        Fault::CrashAfterCall,
        Fault::AnswerPending,
        Fault::AnswerFailed,
        Fault::LostPendingAnswer,
    ];
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PStatus {
    Pending,
    Succeeded,
    Failed,
}

impl PStatus {
    pub fn answer(self) -> escrow::payment::RefundStatus {
        match self {
            PStatus::Pending => escrow::payment::RefundStatus::Pending,
            PStatus::Succeeded => escrow::payment::RefundStatus::Succeeded,
            PStatus::Failed => escrow::payment::RefundStatus::Failed(FAILURE_REASON.into()),
        }
    }
}

/// The `failure_reason` the simulated provider gives a failed refund.
pub const FAILURE_REASON: &str = "expired_or_canceled_card";

/// A refund the provider made: the provider's own truth, which the store must end up matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub id: String,
    pub idempotency_key: String,
    pub contract_id: ContractId,
    pub payment_ref: String,
    pub amount: i64,
    pub status: PStatus,
    /// How the provider first answered it: Stripe replays that answer to the same key.
    pub first: PStatus,
}

/// A transfer the provider made (money out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTransfer {
    pub id: String,
    pub idempotency_key: String,
    pub payout_id: String,
    pub amount: i64,
    pub destination: String,
}

#[derive(Default)]
struct State {
    /// By idempotency key, as Stripe keeps them.
    refunds: BTreeMap<String, ProviderRefund>,
    /// Money taken per payment intent (registered by the simulated Stripe when a payer pays).
    paid: HashMap<String, i64>,
    /// The payment intent of each paid checkout session.
    intents: HashMap<String, String>,
    refunded: HashMap<String, i64>,
    faults: HashMap<ContractId, VecDeque<Fault>>,
    outage: bool,
    /// Refunds made since the simulator last asked (it turns them into `charge.refunded`).
    notices: Vec<ProviderRefund>,
    /// Breaches of the provider's contract by the service (a key reused for another request,
    /// a refund of more than was paid, a refund of an unknown payment): must stay empty.
    misuse: Vec<String>,
    sessions: HashMap<String, String>,
    /// Transfers made, by idempotency key: (transfer id, payout id, amount, destination).
    transfers: BTreeMap<String, ProviderTransfer>,
    /// What the next transfer calls do instead of simply succeeding.
    transfer_faults: VecDeque<Fault>,
    transfer_calls: u64,
    refund_calls: u64,
    faults_fired: u64,
}

#[derive(Default)]
pub struct FakeProvider {
    state: Mutex<State>,
}

/// What one call decided, worked out under the lock; a crash panics only after it is released.
enum Decision {
    Answer(Result<RefundResult, PaymentError>),
    Crash(&'static str),
}

impl FakeProvider {
    pub fn new() -> FakeProvider {
        FakeProvider::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn arm(&self, contract: &ContractId, fault: Fault) {
        self.state()
            .faults
            .entry(contract.clone())
            .or_default()
            .push_back(fault);
    }

    pub fn is_out(&self) -> bool {
        self.state().outage
    }

    pub fn set_outage(&self, on: bool) {
        self.state().outage = on;
    }

    /// Clears every armed fault and ends an outage (the end of a sequence).
    pub fn heal(&self) {
        let mut s = self.state();
        s.faults.clear();
        s.outage = false;
    }

    /// The faults waiting for this contract's next calls, and whether the provider is down.
    pub fn preview(&self, contract: &ContractId) -> (Vec<Fault>, bool) {
        let s = self.state();
        let faults = s
            .faults
            .get(contract)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        (faults, s.outage)
    }

    pub fn register_payment(&self, session: &str, payment_intent: &str, amount: i64) {
        let mut s = self.state();
        s.paid.insert(payment_intent.to_string(), amount);
        s.intents
            .insert(session.to_string(), payment_intent.to_string());
    }

    pub fn arm_transfer(&self, fault: Fault) {
        self.state().transfer_faults.push_back(fault);
    }

    pub fn clear_transfer_faults(&self) {
        self.state().transfer_faults.clear();
    }

    pub fn transfers(&self) -> Vec<ProviderTransfer> {
        self.state().transfers.values().cloned().collect()
    }

    /// Makes a transfer as Stripe would: the same key returns the first answer; the same key
    /// for another request is misuse.
    fn transfer_now(s: &mut State, request: &TransferRequest) -> TransferResult {
        let n = s.transfers.len() + 1;
        let key = request.idempotency_key.clone();
        let made = s
            .transfers
            .entry(key.clone())
            .or_insert_with(|| ProviderTransfer {
                id: format!("tr_sim_{n}"),
                idempotency_key: key.clone(),
                payout_id: request.payout_id.to_string(),
                amount: request.amount.minor.get(),
                destination: request.destination.clone(),
            });
        if made.payout_id != request.payout_id.as_str()
            || made.amount != request.amount.minor.get()
            || made.destination != request.destination
        {
            let text = format!("transfer key {key} reused for another request");
            s.misuse.push(text);
        }
        TransferResult {
            id: made.id.clone(),
        }
    }

    pub fn refunds(&self) -> Vec<ProviderRefund> {
        self.state().refunds.values().cloned().collect()
    }

    /// How the provider first answered the refund made under this idempotency key (what it
    /// replays to that key).
    pub fn first_answer(&self, key: &str) -> Option<PStatus> {
        self.state().refunds.get(key).map(|r| r.first)
    }

    /// The refunds still pending at the provider, oldest first.
    pub fn pending_refunds(&self) -> Vec<ProviderRefund> {
        let mut p: Vec<ProviderRefund> = self
            .state()
            .refunds
            .values()
            .filter(|r| r.status == PStatus::Pending)
            .cloned()
            .collect();
        p.sort_by_key(|r| r.id[7..].parse::<u64>().unwrap_or(0));
        p
    }

    /// The bank settles a pending refund: it succeeds, or fails and gives the charge its money
    /// back (no longer in `amount_refunded`). `None`: it was not pending.
    pub fn finish_refund(&self, id: &str, succeeds: bool) -> Option<ProviderRefund> {
        let mut s = self.state();
        let key = s
            .refunds
            .iter()
            .find(|(_, r)| r.id == id && r.status == PStatus::Pending)
            .map(|(k, _)| k.clone())?;
        let r = s.refunds.get_mut(&key).expect("found");
        r.status = if succeeds {
            PStatus::Succeeded
        } else {
            PStatus::Failed
        };
        let r = r.clone();
        if !succeeds {
            *s.refunded.entry(r.payment_ref.clone()).or_insert(0) -= r.amount;
        }
        Some(r)
    }

    pub fn take_notices(&self) -> Vec<ProviderRefund> {
        std::mem::take(&mut self.state().notices)
    }

    pub fn misuse(&self) -> Vec<String> {
        self.state().misuse.clone()
    }

    pub fn counters(&self) -> (u64, u64) {
        let s = self.state();
        (s.refund_calls, s.faults_fired)
    }

    /// Carries out a refund as Stripe would: the same key with the same request returns the
    /// first answer; the same key with another request, a refund of an unknown payment or of
    /// more than is left are refused (and recorded as misuse: the service must never send them).
    fn execute(
        s: &mut State,
        request: &RefundRequest,
        status: PStatus,
    ) -> Result<RefundResult, PaymentError> {
        // The fake keeps Stripe's view: plain strings and integers.
        let key = request.idempotency_key.as_str().to_string();
        let payment_ref = request.payment_ref.as_str().to_string();
        let amount = request.amount.minor.get();
        if let Some(done) = s.refunds.get(&key) {
            if done.payment_ref == payment_ref && done.amount == amount {
                // Stripe saves the first answer to a key and replays it, whatever became of
                // the refund since.
                return Ok(RefundResult {
                    id: RefundRef::new(done.id.clone()),
                    status: done.first.answer(),
                });
            }
            let why = format!(
                "idempotency key {key} reused: first {} of {}, now {amount} of {payment_ref}",
                done.amount, done.payment_ref,
            );
            s.misuse.push(why.clone());
            return Err(PaymentError::Rejected(why));
        }
        let Some(paid) = s.paid.get(&payment_ref).copied() else {
            let why = format!("no such payment {payment_ref}");
            s.misuse.push(why.clone());
            return Err(PaymentError::Rejected(why));
        };
        let before = s.refunded.get(&payment_ref).copied().unwrap_or(0);
        if amount <= 0 || before + amount > paid {
            let why = format!(
                "refund of {amount} on {payment_ref} which has {} left",
                paid - before
            );
            s.misuse.push(why.clone());
            return Err(PaymentError::Rejected(why));
        }
        let refund = ProviderRefund {
            id: format!("re_sim_{}", s.refunds.len() + 1),
            idempotency_key: key.clone(),
            contract_id: request.contract_id.clone(),
            payment_ref: payment_ref.clone(),
            amount,
            status,
            first: status,
        };
        // A failed refund gives nothing back and is not in the charge's `amount_refunded`.
        if status != PStatus::Failed {
            s.refunded.insert(payment_ref, before + amount);
            s.notices.push(refund.clone());
        }
        s.refunds.insert(key, refund.clone());
        Ok(RefundResult {
            id: RefundRef::new(refund.id),
            status: status.answer(),
        })
    }

    fn decide(&self, request: &RefundRequest) -> Decision {
        let mut s = self.state();
        s.refund_calls += 1;
        if s.outage {
            s.faults_fired += 1;
            return Decision::Answer(Err(PaymentError::Unavailable(
                "simulated outage: connection refused".into(),
            )));
        }
        let fault = s
            .faults
            .get_mut(&request.contract_id)
            .and_then(VecDeque::pop_front);
        if fault.is_some() {
            s.faults_fired += 1;
        }
        match fault {
            None => Decision::Answer(Self::execute(&mut s, request, PStatus::Succeeded)),
            Some(Fault::AnswerPending) => {
                Decision::Answer(Self::execute(&mut s, request, PStatus::Pending))
            }
            Some(Fault::AnswerFailed) => {
                Decision::Answer(Self::execute(&mut s, request, PStatus::Failed))
            }
            Some(Fault::Timeout) => {
                Decision::Answer(Err(PaymentError::Unavailable("simulated timeout".into())))
            }
            Some(Fault::Reject) => Decision::Answer(Err(PaymentError::Rejected(
                "simulated 400 from the provider".into(),
            ))),
            Some(Fault::LostAnswer) => {
                let _ = Self::execute(&mut s, request, PStatus::Succeeded);
                Decision::Answer(Err(PaymentError::Unavailable(
                    "simulated: connection reset after the request was sent".into(),
                )))
            }
            Some(Fault::LostPendingAnswer) => {
                let _ = Self::execute(&mut s, request, PStatus::Pending);
                Decision::Answer(Err(PaymentError::Unavailable(
                    "simulated: connection reset after the refund was taken as pending".into(),
                )))
            }
            Some(Fault::CrashBeforeCall) => Decision::Crash("provider: before the refund call"),
            Some(Fault::CrashAfterCall) => {
                let _ = Self::execute(&mut s, request, PStatus::Succeeded);
                Decision::Crash("provider: after the refund, before its answer was saved")
            }
        }
    }
}

#[async_trait]
impl PaymentProvider for FakeProvider {
    fn name(&self) -> &'static str {
        "sim"
    }

    async fn intent_of_session(
        &self,
        session: &PaymentRef,
    ) -> Result<Option<PaymentRef>, PaymentError> {
        Ok(self
            .state()
            .intents
            .get(session.as_str())
            .map(|pi| PaymentRef::new(pi.as_str())))
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        let mut s = self.state();
        let n = s.sessions.len() + 1;
        let id = s
            .sessions
            .entry(request.idempotency_key.as_str().to_string())
            .or_insert_with(|| format!("cs_sim_{n}"))
            .clone();
        Ok(CheckoutSession {
            url: format!("https://checkout.sim/{id}"),
            id,
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, PaymentError> {
        match self.decide(request) {
            Decision::Answer(a) => a,
            Decision::Crash(site) => crash(site),
        }
    }

    async fn create_connected_account(
        &self,
        request: &AccountRequest,
    ) -> Result<String, PaymentError> {
        Ok(format!("acct_sim_{}", request.user))
    }

    async fn create_account_link(
        &self,
        request: &AccountLinkRequest,
    ) -> Result<String, PaymentError> {
        Ok(format!("https://connect.sim/{}", request.account_id))
    }

    async fn create_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferResult, PaymentError> {
        let (answer, crash_site) = {
            let mut s = self.state();
            s.transfer_calls += 1;
            let fault = if s.outage {
                Some(Fault::Timeout)
            } else {
                s.transfer_faults.pop_front()
            };
            if fault.is_some() {
                s.faults_fired += 1;
            }
            match fault {
                None | Some(Fault::AnswerPending | Fault::AnswerFailed) => {
                    (Ok(Self::transfer_now(&mut s, request)), None)
                }
                Some(Fault::LostPendingAnswer) => {
                    Self::transfer_now(&mut s, request);
                    (
                        Err(PaymentError::Unavailable(
                            "simulated: connection reset after the transfer was sent".into(),
                        )),
                        None,
                    )
                }
                Some(Fault::Timeout) => (
                    Err(PaymentError::Unavailable("simulated timeout".into())),
                    None,
                ),
                Some(Fault::Reject) => (
                    Err(PaymentError::Rejected(
                        "simulated 400: the account cannot take transfers".into(),
                    )),
                    None,
                ),
                Some(Fault::LostAnswer) => {
                    Self::transfer_now(&mut s, request);
                    (
                        Err(PaymentError::Unavailable(
                            "simulated: connection reset after the transfer was sent".into(),
                        )),
                        None,
                    )
                }
                Some(Fault::CrashBeforeCall) => (
                    Err(PaymentError::Unavailable(String::new())),
                    Some("provider: before the transfer call"),
                ),
                Some(Fault::CrashAfterCall) => {
                    Self::transfer_now(&mut s, request);
                    (
                        Err(PaymentError::Unavailable(String::new())),
                        Some("provider: after the transfer, before its answer was saved"),
                    )
                }
            }
        };
        if let Some(site) = crash_site {
            crash(site);
        }
        answer
    }
}
