package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/notify/templates"
)

// notificationEnv is a test environment with every activity mocked except those a test
// overrides; it records statuses and sends with the workflow clock's time.
type notificationEnv struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	statuses []string
	sends    []time.Time
}

func newNotificationEnv(t *testing.T, quotaAnswers ...quota.Decision) *notificationEnv {
	var s testsuite.WorkflowTestSuite
	ne := &notificationEnv{env: s.NewTestWorkflowEnvironment()}
	env := ne.env
	var a *notifications.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.Begin, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in notifications.StatusInput) error {
		ne.mu.Lock()
		ne.statuses = append(ne.statuses, in.Status)
		ne.mu.Unlock()
		return nil
	})
	rendered := templates.Rendered{Subject: "s", HTML: "<p>h</p>", Text: "t"}
	env.OnActivity(a.Render, mock.Anything, mock.Anything).Return(rendered, nil)
	calls := 0
	take := func(_ context.Context, in notifications.QuotaInput) (quota.Decision, error) {
		defer func() { calls++ }()
		if calls < len(quotaAnswers) {
			return quotaAnswers[calls], nil
		}
		return quota.Decision{Allowed: true, Used: int64(len(in.MessageKeys)), Limit: 1000}, nil
	}
	env.OnActivity(a.TakeQuota, mock.Anything, mock.Anything).Return(take)
	env.OnActivity(a.Prepare, mock.Anything, mock.Anything).Return(prepareWith(rendered, take))
	env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, in notifications.SendInput) (notifications.SendResult, error) {
		ne.mu.Lock()
		ne.sends = append(ne.sends, env.Now())
		ne.mu.Unlock()
		return notifications.SendResult{Status: notifications.StatusSent, Provider: "sendgrid", ProviderMessageID: "sg-" + in.Message.Key}, nil
	})
	return ne
}

// prepareWith mocks Prepare as the render and quota steps it folds together.
func prepareWith(r templates.Rendered, take func(context.Context, notifications.QuotaInput) (quota.Decision, error)) func(context.Context, notifications.PrepareInput) (notifications.Prepared, error) {
	return func(ctx context.Context, in notifications.PrepareInput) (notifications.Prepared, error) {
		d, err := take(ctx, in.Quota)
		if err != nil {
			return notifications.Prepared{}, err
		}
		return notifications.Prepared{Rendered: r, Quota: d}, nil
	}
}

func emailInput() NotificationInput {
	return NotificationInput{TenantID: "acme", NotificationID: "notification-1", Channel: "email",
		Recipients: []string{"a@example.com", "b@example.com"}, Template: templates.Welcome, Locale: "en",
		Version: NotificationVersionFolded}
}

// versions runs a test over both command sequences: the folded one new notifications
// follow, and version 0, which workflows and schedules started before it still follow.
func versions(t *testing.T, test func(t *testing.T, version int)) {
	for _, v := range []int{0, NotificationVersionFolded} {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) { test(t, v) })
	}
}

func TestNotificationSendsNowAndRecordsEachMessage(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		ne := newNotificationEnv(t)
		ne.env.ExecuteWorkflow(NotificationWorkflow, in0(version))
		if err := ne.env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		var res NotificationResult
		if err := ne.env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		if res.Status != NotificationSent || res.Sent != 2 || len(ne.sends) != 2 || res.Messages["notification-1/1"].ProviderMessageID != "sg-notification-1/1" {
			t.Fatalf("result %+v, sends %d", res, len(ne.sends))
		}
		if last := ne.statuses[len(ne.statuses)-1]; last != NotificationSent {
			t.Fatalf("statuses %v", ne.statuses)
		}
	})
}

func TestScheduledNotificationWaitsForSendAtThenSendsOnce(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		ne := newNotificationEnv(t)
		start := ne.env.Now()
		sendAt := start.Add(72 * time.Hour)
		in := in0(version)
		in.SendAt = &sendAt
		ne.env.ExecuteWorkflow(NotificationWorkflow, in)
		if err := ne.env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if len(ne.sends) != 2 {
			t.Fatalf("%d sends, want 2 (one per recipient, once)", len(ne.sends))
		}
		for _, at := range ne.sends {
			if at.Before(sendAt) {
				t.Fatalf("sent at %s, before send_at %s", at, sendAt)
			}
		}
	})
}

// in0 is emailInput following version's command sequence.
func in0(version int) NotificationInput {
	in := emailInput()
	in.Version = version
	return in
}

func TestOverQuotaIsDeferredToTheNextWindow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	now := s.NewTestWorkflowEnvironment().Now()
	reset := now.Add(9 * time.Hour)
	ne := newNotificationEnv(t, quota.Decision{Allowed: false, Used: 100, Limit: 100, ResetAt: reset})
	ne.env.ExecuteWorkflow(NotificationWorkflow, emailInput())
	if err := ne.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res NotificationResult
	_ = ne.env.GetWorkflowResult(&res)
	if res.Deferrals != 1 || res.Sent != 2 {
		t.Fatalf("result %+v", res)
	}
	for _, at := range ne.sends {
		if at.Before(reset) {
			t.Fatalf("sent at %s, before the quota window reset at %s", at, reset)
		}
	}
	if ne.statuses[0] != NotificationDeferred {
		t.Fatalf("statuses %v, want deferred first", ne.statuses)
	}
}

func TestCancelBeforeSendSendsNothing(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		ne := newNotificationEnv(t)
		sendAt := ne.env.Now().Add(2 * time.Hour)
		in := in0(version)
		in.SendAt = &sendAt
		ne.env.RegisterDelayedCallback(ne.env.CancelWorkflow, 30*time.Minute)
		ne.env.ExecuteWorkflow(NotificationWorkflow, in)
		err := ne.env.GetWorkflowError()
		var canceledErr *temporal.CanceledError
		if !errors.As(err, &canceledErr) {
			t.Fatalf("workflow error %v, want canceled", err)
		}
		if len(ne.sends) != 0 {
			t.Fatalf("%d messages sent after a cancel before send_at", len(ne.sends))
		}
		if len(ne.statuses) != 1 || ne.statuses[0] != NotificationCanceled {
			t.Fatalf("statuses %v, want [canceled]", ne.statuses)
		}
	})
}

func TestProviderRejectionFailsOnlyThatMessage(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *notifications.Activities
		env.RegisterActivity(a)
		env.OnActivity(a.Begin, mock.Anything, mock.Anything).Return(nil)
		env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(nil)
		env.OnActivity(a.Render, mock.Anything, mock.Anything).Return(templates.Rendered{Subject: "s", Text: "t"}, nil)
		allow := func(context.Context, notifications.QuotaInput) (quota.Decision, error) {
			return quota.Decision{Allowed: true}, nil
		}
		env.OnActivity(a.TakeQuota, mock.Anything, mock.Anything).Return(allow)
		env.OnActivity(a.Prepare, mock.Anything, mock.Anything).Return(prepareWith(templates.Rendered{Subject: "s", Text: "t"}, allow))
		attempts := 0
		env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, in notifications.SendInput) (notifications.SendResult, error) {
			if in.Message.To == "bad@example.com" {
				attempts++
				return notifications.SendResult{}, temporal.NewNonRetryableApplicationError("sendgrid: HTTP 400", notifications.ErrTypeProviderRejected, nil)
			}
			return notifications.SendResult{Status: notifications.StatusSent}, nil
		})
		in := in0(version)
		in.Recipients = []string{"good@example.com", "bad@example.com"}
		env.ExecuteWorkflow(NotificationWorkflow, in)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		var res NotificationResult
		_ = env.GetWorkflowResult(&res)
		if res.Status != NotificationPartiallySent || res.Sent != 1 || res.Failed != 1 || attempts != 1 {
			t.Fatalf("result %+v after %d attempts", res, attempts)
		}
	})
}

func TestEventTriggerStartsOneNotificationPerRule(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *notifications.Activities
	env.RegisterActivity(a)
	env.RegisterWorkflow(NotificationWorkflow)
	env.OnActivity(a.MatchRules, mock.Anything, mock.Anything).Return([]notifications.Trigger{
		{RuleID: "r1", Channel: "email", Template: templates.SLOAlert, Locale: "fr", Recipients: []string{"ops@example.com"}, Data: map[string]any{"slo_name": "latency"}},
		{RuleID: "r2", Channel: "sms", Template: templates.SLOAlert, Locale: "en", Recipients: []string{"+14155550100"}},
	}, nil)
	var mu sync.Mutex
	var children []NotificationInput
	env.OnWorkflow(NotificationWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in NotificationInput) (NotificationResult, error) {
		mu.Lock()
		children = append(children, in)
		mu.Unlock()
		return NotificationResult{Status: NotificationSent}, nil
	})
	ev := events.Event{ID: "ev-1", TenantID: "acme", Type: events.TypeSLOBreached, Data: map[string]any{"slo_name": "latency"}}
	env.ExecuteWorkflow(EventTriggerWorkflow, ev)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res EventTriggerResult
	_ = env.GetWorkflowResult(&res)
	if len(res.Notifications) != 2 || res.Notifications[0] == res.Notifications[1] {
		t.Fatalf("result %+v", res)
	}
	if len(children) != 2 {
		t.Fatalf("children %+v", children)
	}
	byID := map[string]NotificationInput{}
	for _, c := range children {
		byID[c.NotificationID] = c
	}
	if c := byID[res.Notifications[0]]; c.TriggerEventID != "ev-1" || c.Locale != "fr" || c.Data["slo_name"] != "latency" {
		t.Fatalf("first child %+v", c)
	}
	if c := byID[res.Notifications[1]]; c.Channel != "sms" {
		t.Fatalf("second child %+v", c)
	}
	// The IDs are the event's and the rule's: handling the event again starts nothing new.
	env2 := s.NewTestWorkflowEnvironment()
	env2.RegisterActivity(a)
	env2.RegisterWorkflow(NotificationWorkflow)
	env2.OnActivity(a.MatchRules, mock.Anything, mock.Anything).Return([]notifications.Trigger{{RuleID: "r1"}, {RuleID: "r2"}}, nil)
	env2.OnWorkflow(NotificationWorkflow, mock.Anything, mock.Anything).Return(NotificationResult{}, nil)
	env2.ExecuteWorkflow(EventTriggerWorkflow, ev)
	var again EventTriggerResult
	_ = env2.GetWorkflowResult(&again)
	if len(again.Notifications) != 2 || again.Notifications[0] != res.Notifications[0] || again.Notifications[1] != res.Notifications[1] {
		t.Fatalf("IDs not stable: %v then %v", res.Notifications, again.Notifications)
	}
}

func TestQuotaStoreDownMakesTheSendWait(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *notifications.Activities
		env.RegisterActivity(a)
		env.OnActivity(a.Begin, mock.Anything, mock.Anything).Return(nil)
		env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(nil)
		env.OnActivity(a.Render, mock.Anything, mock.Anything).Return(templates.Rendered{Subject: "s", Text: "t"}, nil)
		failures := 0
		take := func(context.Context, notifications.QuotaInput) (quota.Decision, error) {
			if failures < 3 {
				failures++
				return quota.Decision{}, quota.ErrUnavailable
			}
			return quota.Decision{Allowed: true}, nil
		}
		env.OnActivity(a.TakeQuota, mock.Anything, mock.Anything).Return(take)
		env.OnActivity(a.Prepare, mock.Anything, mock.Anything).Return(prepareWith(templates.Rendered{Subject: "s", Text: "t"}, take))
		sends := 0
		env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(context.Context, notifications.SendInput) (notifications.SendResult, error) {
			if failures < 3 {
				t.Error("sent while the quota store was down")
			}
			sends++
			return notifications.SendResult{Status: notifications.StatusSent}, nil
		})
		env.ExecuteWorkflow(NotificationWorkflow, in0(version))
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if failures != 3 || sends != 2 {
			t.Fatalf("%d quota failures, %d sends; want 3 retried failures, then 2 sends", failures, sends)
		}
	})
}
