package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
)

// defaultBudgetUpdatesPerRun bounds a budget run's history: each update adds a handful of
// events, so a run continues as new after this many, well before Temporal suggests it.
const defaultBudgetUpdatesPerRun = 2000

// BudgetWorkflow is a tenant's AI budget: one long-lived workflow per tenant (an entity
// workflow, ID budget.WorkflowID) that reports reserve from before their LLM calls are
// made (one reservation covering a call per section, one more per re-ask) and settle
// with after. Activities reach it with Update-With-Start, which starts it on the
// tenant's first call and otherwise delivers the update to the running one.
//
// Why this design rather than a row lock in Postgres or a Redis counter: a workflow
// handles its updates one at a time, so check-and-reserve is atomic without locks, and
// 50 reports racing for the last dollars cannot overspend (each reservation is checked
// against spent + everything already held). An update answers synchronously, so the
// report waits for a yes or no before calling the model; update IDs deduplicate retried
// activities; the history is the audit trail of every reservation; and reservations of a
// report that died are expired by workflow time, not by a sweeper. Postgres keeps a
// mirror of the settled spend (ai_budget_ledger) for the cost summary's per-model and
// per-day figures, written by the settling activity.
func BudgetWorkflow(ctx workflow.Context, in budget.Input) error {
	log := workflow.GetLogger(ctx)
	l := in.Ledger
	if l == nil {
		var err error
		if l, err = budget.New(in.TenantID, in.LimitMicros, in.Timezone, workflow.Now(ctx)); err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), reports.ErrTypeBadConfig, err)
		}
	}
	maxUpdates := in.MaxUpdates
	if maxUpdates <= 0 {
		maxUpdates = defaultBudgetUpdatesPerRun
	}
	updates := 0
	var alerts []budget.Alert
	alert := func(thresholds []int) {
		for _, t := range thresholds {
			alerts = append(alerts, budget.Alert{TenantID: l.TenantID, Threshold: t, SpentMicros: l.SpentMicros,
				LimitMicros: l.LimitMicros, PeriodStart: l.PeriodStart.Format(time.RFC3339)})
		}
	}

	reserve := func(req budget.ReserveRequest, now time.Time) (budget.Decision, error) {
		if err := l.Configure(req.LimitMicros, req.Timezone); err != nil {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), reports.ErrTypeBadConfig, err)
		}
		d, err := l.Reserve(req.ID, req.JobID, req.Model, req.Micros, now)
		if err != nil {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), reports.ErrTypeBadConfig, err)
		}
		if d == budget.Exhausted && l.MarkExhausted() {
			alert([]int{100})
		}
		return d, nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, budget.UpdateReserve,
		func(ctx workflow.Context, req budget.ReserveRequest) (budget.ReserveResult, error) {
			updates++
			now := workflow.Now(ctx)
			d, err := reserve(req, now)
			if err != nil {
				return budget.ReserveResult{}, err
			}
			return budget.ReserveResult{Granted: d == budget.Granted, Decision: d, Status: l.Status(now)}, nil
		},
		workflow.UpdateHandlerOptions{Validator: validReservation},
	); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, budget.UpdateSettle,
		func(ctx workflow.Context, req budget.SettleRequest) (budget.SettleResult, error) {
			updates++
			now := workflow.Now(ctx)
			newAlerts, known, err := l.Settle(req.ID, req.ActualMicros, now)
			if err != nil {
				return budget.SettleResult{}, temporal.NewNonRetryableApplicationError(err.Error(), reports.ErrTypeBadConfig, err)
			}
			alert(newAlerts)
			return budget.SettleResult{Known: known, NewAlerts: newAlerts, Status: l.Status(now)}, nil
		},
	); err != nil {
		return err
	}
	// A batch is the updates above, in order, for a burst of calls. Its items fail one by
	// one; the batch itself only when it is empty. A batch may arrive twice (sent again
	// after its answer was lost, with a new update ID), so its settles count once
	// (SettleOnce); reserving and releasing the same ID again are harmless already.
	if err := workflow.SetUpdateHandlerWithOptions(ctx, budget.UpdateBatch,
		func(ctx workflow.Context, req budget.BatchRequest) (budget.BatchResult, error) {
			updates += len(req.Items)
			now := workflow.Now(ctx)
			res := budget.BatchResult{Items: make([]budget.BatchItemResult, len(req.Items))}
			for i, it := range req.Items {
				out := &res.Items[i]
				var err error
				switch {
				case it.Reserve != nil:
					var d budget.Decision
					if err = validReservation(*it.Reserve); err == nil {
						if d, err = reserve(*it.Reserve, now); err == nil {
							out.Reserve = &budget.ReserveResult{Granted: d == budget.Granted, Decision: d}
						}
					}
				case it.Settle != nil:
					var newAlerts []int
					var known bool
					if newAlerts, known, _, err = l.SettleOnce(it.Settle.ID, it.Settle.ActualMicros, now); err == nil {
						alert(newAlerts)
						out.Settle = &budget.SettleResult{Known: known, NewAlerts: newAlerts}
					} else {
						err = temporal.NewNonRetryableApplicationError(err.Error(), reports.ErrTypeBadConfig, err)
					}
				case it.Release != nil:
					l.Release(it.Release.ID)
				default:
					err = temporal.NewNonRetryableApplicationError("a batch item needs a reserve, settle or release", errTypeBadReservation, nil)
				}
				var app *temporal.ApplicationError
				if errors.As(err, &app) {
					out.Error, out.ErrorType = app.Error(), app.Type()
				}
			}
			res.Status = l.Status(now)
			return res, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(req budget.BatchRequest) error {
			if len(req.Items) == 0 {
				return temporal.NewNonRetryableApplicationError("an empty batch", errTypeBadReservation, nil)
			}
			return nil
		}},
	); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, budget.UpdateRelease,
		func(ctx workflow.Context, req budget.ReleaseRequest) (budget.Status, error) {
			updates++
			l.Release(req.ID)
			return l.Status(workflow.Now(ctx)), nil
		},
	); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, budget.QueryStatus, func() (budget.Status, error) {
		return l.Status(workflow.Now(ctx)), nil
	}); err != nil {
		return err
	}

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// An alert that cannot be sent for an hour is dropped with a log line; the budget
		// itself never waits on it.
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *reports.Activities
	for {
		if err := workflow.Await(ctx, func() bool {
			return len(alerts) > 0 || updates >= maxUpdates || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		}); err != nil {
			return err
		}
		for len(alerts) > 0 {
			next := alerts[0]
			alerts = alerts[1:]
			if err := workflow.ExecuteActivity(actx, a.EmitBudgetAlert, next).Get(ctx, nil); err != nil {
				log.Error("budget alert not sent", "tenant", next.TenantID, "threshold", next.Threshold, "error", err)
			}
		}
		if updates >= maxUpdates || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Updates already accepted finish in this run; new ones reach the next.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if len(alerts) > 0 {
				continue // alerts those last updates set off are sent by this run
			}
			return workflow.NewContinueAsNewError(ctx, BudgetWorkflow, budget.Input{
				TenantID: l.TenantID, LimitMicros: l.LimitMicros, Timezone: l.Timezone, Ledger: l, MaxUpdates: in.MaxUpdates,
			})
		}
	}
}

const errTypeBadReservation = "BadReservation"

func validReservation(req budget.ReserveRequest) error {
	if req.ID == "" || req.Micros < 0 {
		return temporal.NewNonRetryableApplicationError("a reservation needs an ID and a non-negative amount", errTypeBadReservation, nil)
	}
	return nil
}
