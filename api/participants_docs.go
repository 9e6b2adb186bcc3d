package api

var (
	docUpsertParticipants = operation{Summary: "Create or replace participant records (a JSON array or NDJSON of ParticipantRow, at most 10,000): a record is replaced whole, fields left out are cleared; one bad row is a 400 naming it ([3].email) and writes nothing",
		Tag: "privacy", Body: "upload:ParticipantRow",
		Responses: map[int]string{200: "ParticipantsUpserted", 400: "Error", 401: "Error", 403: "Error", 413: "Error", 415: "Error", 503: "Error"}}
	docListParticipants = operation{Summary: "The tenant's participant records in ID order", Tag: "privacy",
		Query: []param{
			{"limit", "integer", "1-500, default 100"},
			{"page_token", "string", "next_page_token of the previous page"},
		},
		Responses: map[int]string{200: "ParticipantPage", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docGetParticipant = operation{Summary: "A participant's record (404 for another tenant's)", Tag: "privacy",
		Responses: map[int]string{200: "Participant", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}}
	docGetRedactionNames = operation{Summary: "The tenant's names list: extra names the redactor treats as people", Tag: "privacy",
		Responses: map[int]string{200: "NamesList", 401: "Error", 403: "Error", 503: "Error"}}
	docPutRedactionNames = operation{Summary: "Replace the tenant's names list (at most 10,000 names of 2-200 characters, trimmed, repeats dropped); the next report or classification uses it",
		Tag: "privacy", Body: "NamesList", Responses: map[int]string{200: "NamesList", 400: "Error", 401: "Error", 403: "Error", 413: "Error", 503: "Error"}}
)

func participantSchemas() obj {
	row := obj{"id": str, "full_name": str, "email": str, "phone": str,
		"locale": obj{"type": "string", "description": "a BCP 47 tag such as en-GB"}, "attributes": anyObj}
	record := obj{"created_at": stamp, "updated_at": stamp}
	for k, v := range row {
		record[k] = v
	}
	return obj{
		"ParticipantRow":       props([]string{"id"}, row),
		"Participant":          props(nil, record),
		"ParticipantPage":      props(nil, obj{"participants": obj{"type": "array", "items": ref("Participant")}, "next_page_token": str}),
		"ParticipantsUpserted": props(nil, obj{"upserted": integer}),
		"NamesList":            props([]string{"names"}, obj{"names": obj{"type": "array", "items": str, "maxItems": maxRedactionNames}}),
	}
}
