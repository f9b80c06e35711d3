//! Running any agent step under a reservation.

use std::future::Future;

use crate::budget::{BudgetExceeded, CallPlan, Receipt, TaskBudget};
use crate::usage::Usage;

/// What a step is allowed to use; pass it on to the provider call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepGrant {
    /// The `max_tokens` to send the request with.
    pub max_output_tokens: u64,
}

/// A guarded step did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum StepError<E> {
    /// The budget refused the step; it never ran.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The step ran and failed; it was billed at its reserved worst case,
    /// since a failed call may still have been charged.
    #[error("the guarded step failed: {0}")]
    Step(#[source] E),
}

impl TaskBudget {
    /// Runs `step` under a reservation for `plan` and settles from the usage
    /// it returns.
    ///
    /// The step gets a [`StepGrant`] with the `max_tokens` to send. If it
    /// fails, or its future is dropped, the call is billed at its worst case:
    /// a step that failed after sending may still have been charged. When you
    /// know a call was never sent, use [`reserve`](TaskBudget::reserve) and
    /// [`release`](crate::budget::Reservation::release) directly.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
    /// use spendguard::prices::{ModelPrice, Rates};
    /// use spendguard::money::PricePerToken;
    ///
    /// # let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// # let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(4.0))));
    /// let budget = TaskBudget::new(Usd::from_dollars(1.0)?);
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let (answer, receipt) = budget
    ///     .run(CallPlan::new(&price, 500), |grant| async move {
    ///         // call the provider with max_tokens = grant.max_output_tokens …
    ///         Ok::<_, std::io::Error>(("42", Usage::new(500, 20)))
    ///     })
    ///     .await?;
    /// assert_eq!(answer, "42");
    /// assert_eq!(receipt.cost, Usd::from_nanos(580_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StepError::Budget`] if the reservation is refused (the step never
    /// runs), [`StepError::Step`] if the step fails.
    pub async fn run<T, E, F, Fut>(
        &self,
        plan: CallPlan,
        step: F,
    ) -> Result<(T, Receipt), StepError<E>>
    where
        F: FnOnce(StepGrant) -> Fut,
        Fut: Future<Output = Result<(T, Usage), E>>,
    {
        let reservation = self.reserve(plan)?;
        let grant = StepGrant {
            max_output_tokens: reservation.max_output_tokens(),
        };
        match step(grant).await {
            Ok((value, usage)) => Ok((value, reservation.settle(&usage))),
            Err(error) => Err(StepError::Step(error)),
        }
    }

    /// [`run`](TaskBudget::run) for a synchronous step.
    ///
    /// # Errors
    /// As [`run`](TaskBudget::run).
    pub fn run_blocking<T, E, F>(
        &self,
        plan: CallPlan,
        step: F,
    ) -> Result<(T, Receipt), StepError<E>>
    where
        F: FnOnce(StepGrant) -> Result<(T, Usage), E>,
    {
        let reservation = self.reserve(plan)?;
        let grant = StepGrant {
            max_output_tokens: reservation.max_output_tokens(),
        };
        match step(grant) {
            Ok((value, usage)) => Ok((value, reservation.settle(&usage))),
            Err(error) => Err(StepError::Step(error)),
        }
    }
}
