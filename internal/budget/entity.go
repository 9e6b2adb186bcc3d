package budget

// The per-tenant budget workflow's contract, shared by the workflow (workflows/budget.go),
// the activities that update it (activities/reports) and the API that queries it.
const (
	// WorkflowType is the budget workflow's registered name.
	WorkflowType = "BudgetWorkflow"
	// UpdateReserve holds budget before an LLM call (ReserveRequest → ReserveResult).
	UpdateReserve = "reserve"
	// UpdateSettle records what the call cost (SettleRequest → SettleResult).
	UpdateSettle = "settle"
	// UpdateRelease drops a reservation whose call was not made (ReleaseRequest → Status).
	UpdateRelease = "release"
	// UpdateBatch applies several reservations, settles and releases in order, as one
	// update (BatchRequest → BatchResult): a workflow takes only a few updates at a time,
	// so a burst of reports sends theirs together.
	UpdateBatch = "batch"
	// QueryStatus answers with the ledger's Status.
	QueryStatus = "status"
	// JobKind is the JobKind search attribute of budget workflows (not a job of the jobs API).
	JobKind = "ai_budget"
)

// WorkflowID is the ID of a tenant's budget workflow: one per tenant, for ever.
func WorkflowID(tenantID string) string { return "ai-budget-" + tenantID }

// Input starts (or continues) a tenant's budget workflow.
type Input struct {
	TenantID    string `json:"tenant_id"`
	LimitMicros int64  `json:"limit_micros"`
	Timezone    string `json:"timezone"`
	// Ledger is carried over by continue-as-new; nil on the first run.
	Ledger *Ledger `json:"ledger,omitempty"`
	// MaxUpdates is how many updates a run takes before it continues as new (0: the default).
	MaxUpdates int `json:"max_updates,omitempty"`
}

// ReserveRequest asks to hold Micros for one call. It carries the tenant's current limit
// and time zone, so that a changed setting applies from the next reservation on.
type ReserveRequest struct {
	ID          string `json:"id"`
	JobID       string `json:"job_id"`
	Model       string `json:"model"`
	Micros      int64  `json:"micros"`
	LimitMicros int64  `json:"limit_micros"`
	Timezone    string `json:"timezone"`
}

// ReserveResult says whether the reservation was granted, and the budget after it.
type ReserveResult struct {
	Granted  bool     `json:"granted"`
	Decision Decision `json:"decision"`
	Status   Status   `json:"status"`
}

// SettleRequest replaces reservation ID with the call's actual cost.
type SettleRequest struct {
	ID           string `json:"id"`
	ActualMicros int64  `json:"actual_micros"`
}

// SettleResult is the budget after settling, and the alerts the call set off.
type SettleResult struct {
	Known     bool   `json:"known"`
	NewAlerts []int  `json:"new_alerts"`
	Status    Status `json:"status"`
}

// ReleaseRequest drops reservation ID.
type ReleaseRequest struct {
	ID string `json:"id"`
}

// Alert is a threshold crossed, as the budget workflow hands it to its alert activity.
type Alert struct {
	TenantID    string `json:"tenant_id"`
	Threshold   int    `json:"threshold"`
	SpentMicros int64  `json:"spent_micros"`
	LimitMicros int64  `json:"limit_micros"`
	PeriodStart string `json:"period_start"` // RFC 3339
}

// BatchItem is one call of a batch: exactly one of its fields is set.
type BatchItem struct {
	Reserve *ReserveRequest `json:"reserve,omitempty"`
	Settle  *SettleRequest  `json:"settle,omitempty"`
	Release *ReleaseRequest `json:"release,omitempty"`
}

// BatchRequest is calls to apply in order.
type BatchRequest struct {
	Items []BatchItem `json:"items"`
}

// BatchItemResult is one call's outcome (without Status, which the batch carries once), or
// the error it failed with on its own.
type BatchItemResult struct {
	Reserve   *ReserveResult `json:"reserve,omitempty"`
	Settle    *SettleResult  `json:"settle,omitempty"`
	Error     string         `json:"error,omitempty"`
	ErrorType string         `json:"error_type,omitempty"`
}

// BatchResult is each call's outcome, in order, and the budget after the last.
type BatchResult struct {
	Items  []BatchItemResult `json:"items"`
	Status Status            `json:"status"`
}
