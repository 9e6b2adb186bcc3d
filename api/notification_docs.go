package api

// The OpenAPI documentation of the notification routes.
var (
	notifyStart = map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 409: "Error", 429: "Error", 503: "Error"}

	docNotifySend = operation{Summary: "Send a notification now (email, sms or push; a template with data, or a subject and body); starts a notification job. 429 when the tenant's daily quota for the channel is spent",
		Tag: "notifications", Body: "SendNotificationRequest", IdempotencyKey: true, Responses: notifyStart}
	docNotifySchedule = operation{Summary: "Send later (send_at: a durable timer) or on a recurrence (a Temporal Schedule with a cron or calendar spec in the tenant's time zone). send_at answers 202 with the job; a recurrence answers 201 with the schedule",
		Tag: "notifications", Body: "ScheduleNotificationRequest", IdempotencyKey: true,
		Responses: map[int]string{201: "NotificationSchedule", 202: "Job", 400: "Error", 401: "Error", 403: "Error", 409: "Error", 429: "Error", 503: "Error"}}
	docNotifyCancel = operation{Summary: "Cancel a pending notification (nothing is sent), or delete a schedule (IDs starting schedule-)", Tag: "notifications",
		Responses: map[int]string{202: "Notification", 401: "Error", 403: "Error", 404: "Error", 409: "Error", 503: "Error"}}
	docNotifyHistory = operation{Summary: "The tenant's notifications, newest first", Tag: "notifications",
		Query: []param{
			{"channel", "string", "email | sms | push"},
			{"status", "string", "scheduled | sending | deferred | sent | partially_sent | failed | canceled"},
			{"template", "string", "template name"},
			{"recipient", "string", "an address the notification was sent to"},
			{"since", "string", "RFC 3339; created at or after"},
			{"until", "string", "RFC 3339; created before"},
			{"page_size", "integer", "1-100, default 20"},
			{"page_token", "string", "next_page_token of the previous page"},
		},
		Responses: map[int]string{200: "NotificationPage", 400: "Error", 401: "Error", 503: "Error"}}
	docNotifyGet = operation{Summary: "A notification with each message's provider ID and status, the providers' delivery events, and the stored email when sent to the outbox",
		Tag: "notifications", Responses: map[int]string{200: "Notification", 401: "Error", 404: "Error", 503: "Error"}}
	docNotifyQuota = operation{Summary: "Today's quota per channel in the tenant's time zone: limit, used, remaining, reset time", Tag: "notifications",
		Responses: map[int]string{200: "NotificationQuota", 401: "Error", 503: "Error"}}
	docNotifySetQuota = operation{Summary: "Set the tenant's daily limit for a channel", Tag: "notifications", Body: "SetQuotaRequest",
		Responses: map[int]string{200: "NotificationQuota", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docNotifyPreview = operation{Summary: "Render a template with its sample data", Tag: "notifications",
		Query:     []param{{"locale", "string", "en | es | fr (default en)"}, {"format", "string", "json (default) or html"}},
		Responses: map[int]string{200: "TemplatePreview", 400: "Error", 401: "Error", 404: "Error"}}
	docListSchedules = operation{Summary: "The tenant's recurring notifications with their next fire times", Tag: "notifications",
		Responses: map[int]string{200: "NotificationScheduleList", 401: "Error", 503: "Error"}}
	docGetSchedule     = operation{Summary: "One recurring notification", Tag: "notifications", Responses: scheduleResponses}
	docPauseSchedule   = operation{Summary: "Pause a recurring notification", Tag: "notifications", Responses: scheduleResponses}
	docResumeSchedule  = operation{Summary: "Resume a paused recurring notification", Tag: "notifications", Responses: scheduleResponses}
	docTriggerSchedule = operation{Summary: "Run a recurring notification now, once", Tag: "notifications", Responses: scheduleResponses}
	scheduleResponses  = map[int]string{200: "NotificationSchedule", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}

	docListRules  = operation{Summary: "The tenant's event rules", Tag: "notifications", Responses: map[int]string{200: "NotificationRuleList", 401: "Error"}}
	docCreateRule = operation{Summary: "Add an event rule: which template, channel and recipients an event type starts", Tag: "notifications",
		Body: "NotificationRuleRequest", Responses: map[int]string{201: "NotificationRule", 400: "Error", 401: "Error", 403: "Error"}}
	docDeleteRule = operation{Summary: "Delete an event rule", Tag: "notifications", Responses: map[int]string{204: "Empty", 401: "Error", 403: "Error", 404: "Error"}}

	docSendGridWebhook = operation{Summary: "SendGrid's signed event webhook (public; ECDSA signature over timestamp + body, 401 when it does not verify)",
		Tag: "webhooks", Body: "SendGridEvents", Responses: map[int]string{200: "Object", 400: "Error", 401: "Error", 503: "Error"}}
	docTwilioWebhook = operation{Summary: "Twilio's message status callback (public; X-Twilio-Signature, 401 when it does not verify)",
		Tag: "webhooks", Body: "form:TwilioStatusCallback", Responses: map[int]string{204: "Empty", 400: "Error", 401: "Error", 503: "Error"}}
	docPostEvent = operation{Summary: "Emit a platform event; the tenant's rules turn it into notifications (EventTriggerWorkflow)", Tag: "events",
		Body: "EventRequest", IdempotencyKey: true, Responses: map[int]string{202: "Object", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
)

func notificationSchemas() obj {
	send := obj{
		"channel": obj{"type": "string", "enum": []string{"email", "sms", "push"}}, "to": obj{"type": "array", "items": str, "maxItems": maxRecipients},
		"template": obj{"type": "string", "enum": []string{"weekly_report", "slo_alert", "welcome", "gdpr_export_ready"}},
		"data":     anyObj, "locale": obj{"type": "string", "enum": []string{"en", "es", "fr"}}, "subject": str, "body": str,
	}
	schedule := obj{"send_at": stamp, "recurrence": props(nil, obj{"cron": str, "timezone": str, "start_at": stamp,
		"calendar": props(nil, obj{"minute": str, "hour": str, "day_of_month": str, "month": str, "day_of_week": str})})}
	for k, v := range send {
		schedule[k] = v
	}
	message := props(nil, obj{"message_key": str, "recipient": str, "status": str, "provider": str, "provider_message_id": str, "error": str, "sent_at": stamp})
	event := props(nil, obj{"message_key": str, "provider": str, "provider_event_id": str, "event": str, "recipient": str, "reason": str, "occurred_at": stamp})
	outbox := props(nil, obj{"message_key": str, "channel": str, "recipient": str, "subject": str, "html": str, "text": str, "created_at": stamp})
	schedView := props(nil, obj{"id": str, "cron": str, "timezone": str, "paused": boolean, "next_action_times": obj{"type": "array", "items": stamp},
		"recent_runs": obj{"type": "array", "items": props(nil, obj{"scheduled_at": stamp, "notification_id": str})}, "actions": integer,
		"request": anyObj, "created_at": stamp})
	rule := props(nil, obj{"id": str, "event_type": str, "channel": str, "template": str, "locale": str, "recipients": obj{"type": "array", "items": str}, "enabled": boolean, "created_at": stamp})
	return obj{
		"SendNotificationRequest":     props([]string{"channel", "to"}, send),
		"ScheduleNotificationRequest": props([]string{"channel", "to"}, schedule),
		"Notification": props(nil, obj{"id": str, "tenant_id": str, "channel": str, "template": str, "locale": str, "recipients": obj{"type": "array", "items": str},
			"subject": str, "status": str, "send_at": stamp, "schedule_id": str, "trigger_event_id": str, "error": str, "created_at": stamp, "updated_at": stamp,
			"sent_at": stamp, "messages": obj{"type": "array", "items": message}, "events": obj{"type": "array", "items": event}, "outbox": obj{"type": "array", "items": outbox}}),
		"NotificationPage": props(nil, obj{"notifications": obj{"type": "array", "items": ref("Notification")}, "next_page_token": str}),
		"NotificationQuota": props(nil, obj{"timezone": str, "channels": obj{"type": "array", "items": props(nil, obj{"channel": str, "limit": integer,
			"used": integer, "remaining": integer, "reset_at": stamp})}}),
		"SetQuotaRequest":          props([]string{"daily_limit"}, obj{"daily_limit": integer}),
		"TemplatePreview":          props(nil, obj{"template": str, "locale": str, "variables": obj{"type": "array", "items": str}, "sample_data": anyObj, "subject": str, "html": str, "text": str}),
		"NotificationSchedule":     schedView,
		"NotificationScheduleList": props(nil, obj{"schedules": obj{"type": "array", "items": ref("NotificationSchedule")}}),
		"NotificationRuleRequest": props([]string{"event_type", "channel", "template", "recipients"}, obj{"event_type": str, "channel": str, "template": str,
			"locale": str, "recipients": obj{"type": "array", "items": str}, "enabled": boolean}),
		"NotificationRule":     rule,
		"NotificationRuleList": props(nil, obj{"rules": obj{"type": "array", "items": ref("NotificationRule")}}),
		"SendGridEvents": obj{"type": "array", "items": props(nil, obj{"email": str, "timestamp": integer, "event": str, "sg_event_id": str,
			"sg_message_id": str, "reason": str, "impactflow_message_key": str})},
		"TwilioStatusCallback": props(nil, obj{"MessageSid": str, "MessageStatus": str, "To": str, "ErrorCode": str, "OptOutType": str}),
		"EventRequest": props([]string{"type"}, obj{"id": str, "type": obj{"type": "string", "enum": []string{"reporting.generated", "slo.breached",
			"privacy.export.completed", "user.registered", "ai.budget.alert"}}, "occurred_at": stamp, "data": anyObj}),
		"Empty": obj{"type": "null"},
	}
}
