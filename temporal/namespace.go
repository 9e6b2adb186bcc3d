package temporal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// visibleWait bounds how long EnsureNamespace and EnsureSearchAttributes wait for what they
// created to become usable when the caller's context has no deadline of its own.
const visibleWait = 30 * time.Second

// probeWorkflowID names a workflow that nobody starts: asking for it tells whether the frontend
// resolves the namespace (NotFound) or not yet (NamespaceNotFound).
const probeWorkflowID = "impactflow-namespace-probe"

// EnsureNamespace registers the namespace if it is missing, or updates its retention if it
// differs, and returns once the frontend accepts calls in it. It is idempotent and safe when
// several processes start at once: the loser of a registration race sees
// NamespaceAlreadyExists and goes on to check the retention. It needs the namespace-admin
// APIs, so it is meant for the embedded or a self-hosted server; Temporal Cloud namespaces are
// managed through Cloud's own tooling.
func EnsureNamespace(ctx context.Context, c client.Client, name string, retention time.Duration) error {
	svc := c.WorkflowService()
	desc, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: name})
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		_, err = svc.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        name,
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		switch {
		case err == nil:
			return waitForNamespace(ctx, c, name)
		case errors.As(err, &exists):
			// Someone else registered it in the meantime; their retention may differ from ours.
			if err := waitForNamespace(ctx, c, name); err != nil {
				return err
			}
			desc, err = svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: name})
		default:
			return fmt.Errorf("register namespace %s: %w", name, err)
		}
	}
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", name, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = svc.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: name,
		Config: &namespacepb.NamespaceConfig{
			WorkflowExecutionRetentionTtl: durationpb.New(retention),
		},
	})
	if err != nil {
		return fmt.Errorf("update retention of namespace %s: %w", name, err)
	}
	return nil
}

// EnsureSearchAttributes adds every attribute of SearchAttributes that the namespace lacks,
// then waits until all of them are listed, so that workflows started right after it returns can
// set them. It is idempotent and safe when several processes add the same attributes at once.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := SearchAttributes()
	missing, err := missingSearchAttributes(ctx, c, namespace, want)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        namespace,
			SearchAttributes: missing,
		})
		if err != nil {
			// A concurrent caller may have added them first (the server then answers Unavailable
			// or AlreadyExists); that is success as long as the attributes are now there.
			again, listErr := missingSearchAttributes(ctx, c, namespace, want)
			if listErr != nil || len(again) > 0 {
				return fmt.Errorf("add search attributes %v to namespace %s: %w",
					slices.Sorted(maps.Keys(missing)), namespace, err)
			}
		}
	}
	return waitForSearchAttributes(ctx, c, namespace, want)
}

// missingSearchAttributes returns the attributes of want that the namespace does not have. An
// attribute that exists with another type cannot be fixed by adding it, so it is an error.
func missingSearchAttributes(
	ctx context.Context,
	c client.Client,
	namespace string,
	want map[string]enumspb.IndexedValueType,
) (map[string]enumspb.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{
		Namespace: namespace,
	})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := make(map[string]enumspb.IndexedValueType)
	for name, typ := range want {
		have, ok := resp.GetCustomAttributes()[name]
		if !ok {
			have, ok = resp.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			return nil, fmt.Errorf("search attribute %s in namespace %s is %s, want %s",
				name, namespace, have, typ)
		}
	}
	return missing, nil
}

// waitForNamespace returns once the frontend resolves the namespace. DescribeNamespace reads
// the database, but every other call goes through the frontend's namespace cache, which can
// answer NamespaceNotFound for a second or two after registration (it caches misses).
func waitForNamespace(ctx context.Context, c client.Client, name string) error {
	return poll(ctx, "namespace "+name+" to become usable", func() (bool, error) {
		_, err := c.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: name,
			Execution: &commonpb.WorkflowExecution{WorkflowId: probeWorkflowID},
		})
		var nsNotFound *serviceerror.NamespaceNotFound
		var wfNotFound *serviceerror.NotFound
		switch {
		case errors.As(err, &nsNotFound):
			return false, nil
		case err == nil, errors.As(err, &wfNotFound):
			return true, nil
		default:
			return false, fmt.Errorf("probe namespace %s: %w", name, err)
		}
	})
}

// waitForSearchAttributes polls until every attribute of want is listed.
func waitForSearchAttributes(
	ctx context.Context,
	c client.Client,
	namespace string,
	want map[string]enumspb.IndexedValueType,
) error {
	return poll(ctx, "search attributes in namespace "+namespace, func() (bool, error) {
		missing, err := missingSearchAttributes(ctx, c, namespace, want)
		return len(missing) == 0, err
	})
}

// poll calls check until it reports done or fails, giving up at ctx's deadline or after
// visibleWait. It starts fast, because a dev server is usually ready within milliseconds, and
// backs off for a busy cluster.
func poll(ctx context.Context, what string, check func() (bool, error)) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, visibleWait)
		defer cancel()
	}
	interval := 10 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-timer.C:
		}
		done, err := check()
		if err != nil || done {
			return err
		}
		timer.Reset(interval)
		interval = min(2*interval, time.Second)
	}
}
