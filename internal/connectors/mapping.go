package connectors

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"time"
)

// ImpactSummary is a tenant's impact data for a delivery period, per program, as read from
// impact_events. It is the input of every mapping.
type ImpactSummary struct {
	DeliveryID  string          `json:"delivery_id"`
	TenantID    string          `json:"tenant_id"`
	TenantName  string          `json:"tenant_name"`
	PeriodStart time.Time       `json:"period_start"` // first day, inclusive
	PeriodEnd   time.Time       `json:"period_end"`   // last day, inclusive
	Currency    string          `json:"currency"`
	Programs    []ProgramImpact `json:"programs"`
}

// ProgramImpact is one program's figures for the period.
type ProgramImpact struct {
	Code           string  `json:"code"`
	Name           string  `json:"name"`
	VolunteerHours float64 `json:"volunteer_hours"`
	Donations      float64 `json:"donations"`
	Participants   int     `json:"participants"`
	Outcomes       int     `json:"outcomes"`      // outcome measurements taken
	OutcomeScore   float64 `json:"outcome_score"` // their mean value
}

// ContentType is the media type of the partner's payload.
func ContentType(p Partner, protocol string) string {
	if p == Workday && protocol == ProtocolSOAP {
		return "text/xml; charset=utf-8"
	}
	return "application/json"
}

// Map turns the summary into the partner's payload. For Workday SOAP it is the body
// element; the envelope and its WS-Security header are added per request.
func Map(p Partner, protocol string, s ImpactSummary) ([]byte, error) {
	switch p {
	case Benevity:
		return json.MarshalIndent(mapBenevity(s), "", "  ")
	case Goodera:
		return json.MarshalIndent(mapGoodera(s), "", "  ")
	case Workday:
		if protocol == ProtocolSOAP {
			return xml.MarshalIndent(mapWorkdaySOAP(s), "", "  ")
		}
		return json.MarshalIndent(mapWorkdayREST(s), "", "  ")
	}
	return nil, fmt.Errorf("map: unknown partner %q", p)
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

type benevityReport struct {
	Reference string          `json:"reference"`
	Company   benevityCompany `json:"company"`
	Period    benevityPeriod  `json:"reportingPeriod"`
	Causes    []benevityCause `json:"causes"`
	Totals    benevityTotals  `json:"totals"`
}

type benevityCompany struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type benevityPeriod struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type benevityMoney struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

type benevityCause struct {
	ProgramCode      string        `json:"programCode"`
	ProgramName      string        `json:"programName"`
	VolunteerHours   float64       `json:"volunteerHours"`
	Donations        benevityMoney `json:"donationTotal"`
	ParticipantCount int           `json:"participantCount"`
	OutcomeCount     int           `json:"outcomeCount"`
	OutcomeScore     float64       `json:"outcomeScore"`
}

type benevityTotals struct {
	VolunteerHours float64       `json:"volunteerHours"`
	Donations      benevityMoney `json:"donationTotal"`
}

func mapBenevity(s ImpactSummary) benevityReport {
	r := benevityReport{
		Reference: s.DeliveryID,
		Company:   benevityCompany{ID: s.TenantID, Name: s.TenantName},
		Period:    benevityPeriod{From: day(s.PeriodStart), To: day(s.PeriodEnd)},
		Causes:    []benevityCause{},
		Totals:    benevityTotals{Donations: benevityMoney{Currency: s.Currency}},
	}
	for _, p := range s.Programs {
		r.Causes = append(r.Causes, benevityCause{
			ProgramCode: p.Code, ProgramName: p.Name, VolunteerHours: p.VolunteerHours,
			Donations:        benevityMoney{Amount: p.Donations, Currency: s.Currency},
			ParticipantCount: p.Participants, OutcomeCount: p.Outcomes, OutcomeScore: p.OutcomeScore,
		})
		r.Totals.VolunteerHours += p.VolunteerHours
		r.Totals.Donations.Amount += p.Donations
	}
	return r
}

type gooderaSubmission struct {
	ExternalID   string          `json:"external_id"`
	Organization string          `json:"organization"`
	PeriodStart  string          `json:"period_start"`
	PeriodEnd    string          `json:"period_end"`
	Metrics      []gooderaMetric `json:"metrics"`
}

type gooderaMetric struct {
	Program string  `json:"program"`
	Metric  string  `json:"metric"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
}

func mapGoodera(s ImpactSummary) gooderaSubmission {
	g := gooderaSubmission{ExternalID: s.DeliveryID, Organization: s.TenantID, PeriodStart: day(s.PeriodStart),
		PeriodEnd: day(s.PeriodEnd), Metrics: []gooderaMetric{}}
	for _, p := range s.Programs {
		g.Metrics = append(g.Metrics,
			gooderaMetric{Program: p.Code, Metric: "volunteer_hours", Value: p.VolunteerHours, Unit: "hours"},
			gooderaMetric{Program: p.Code, Metric: "donations", Value: p.Donations, Unit: s.Currency},
			gooderaMetric{Program: p.Code, Metric: "participants", Value: float64(p.Participants), Unit: "people"},
			gooderaMetric{Program: p.Code, Metric: "outcomes_measured", Value: float64(p.Outcomes), Unit: "count"},
		)
	}
	return g
}

type workdayImpact struct {
	ReferenceID     string            `json:"referenceId"`
	Organization    string            `json:"organizationName"`
	PeriodStartDate string            `json:"periodStartDate"`
	PeriodEndDate   string            `json:"periodEndDate"`
	Lines           []workdayRESTLine `json:"impactLines"`
}

type workdayRESTLine struct {
	ProgramID      string  `json:"programId"`
	ProgramName    string  `json:"programName"`
	VolunteerHours float64 `json:"volunteerHours"`
	DonationAmount float64 `json:"donationAmount"`
	CurrencyCode   string  `json:"currencyCode"`
	Participants   int     `json:"participantCount"`
	Outcomes       int     `json:"outcomeCount"`
}

func mapWorkdayREST(s ImpactSummary) workdayImpact {
	w := workdayImpact{ReferenceID: s.DeliveryID, Organization: s.TenantName, PeriodStartDate: day(s.PeriodStart),
		PeriodEndDate: day(s.PeriodEnd), Lines: []workdayRESTLine{}}
	for _, p := range s.Programs {
		w.Lines = append(w.Lines, workdayRESTLine{ProgramID: p.Code, ProgramName: p.Name, VolunteerHours: p.VolunteerHours,
			DonationAmount: p.Donations, CurrencyCode: s.Currency, Participants: p.Participants, Outcomes: p.Outcomes})
	}
	return w
}

// WorkdayNS is the namespace of Workday's SOAP payloads.
const WorkdayNS = "urn:com.workday/bsvc"

// WorkdaySubmitRequest is the body element of the Workday SOAP call.
type WorkdaySubmitRequest struct {
	XMLName xml.Name          `xml:"urn:com.workday/bsvc Submit_Impact_Data_Request"`
	Version string            `xml:"version,attr"`
	Data    WorkdayImpactData `xml:"Impact_Data_Data"`
}

// WorkdayImpactData is the delivery inside a Workday SOAP request.
type WorkdayImpactData struct {
	ReferenceID string            `xml:"Reference_ID"`
	Period      WorkdayPeriod     `xml:"Period"`
	Lines       []WorkdaySOAPLine `xml:"Impact_Line_Data"`
}

// WorkdayPeriod is the reporting period of a Workday SOAP request.
type WorkdayPeriod struct {
	Start string `xml:"Start_Date"`
	End   string `xml:"End_Date"`
}

// WorkdaySOAPLine is one program's figures in a Workday SOAP request.
type WorkdaySOAPLine struct {
	ProgramID      string        `xml:"Program_ID"`
	VolunteerHours float64       `xml:"Volunteer_Hours"`
	Donation       WorkdayAmount `xml:"Donation_Amount"`
	Participants   int           `xml:"Participant_Count"`
	Outcomes       int           `xml:"Outcome_Count"`
}

// WorkdayAmount is a money amount with its currency.
type WorkdayAmount struct {
	Currency string  `xml:"Currency,attr"`
	Value    float64 `xml:",chardata"`
}

func mapWorkdaySOAP(s ImpactSummary) WorkdaySubmitRequest {
	r := WorkdaySubmitRequest{Version: "v42.0", Data: WorkdayImpactData{ReferenceID: s.DeliveryID,
		Period: WorkdayPeriod{Start: day(s.PeriodStart), End: day(s.PeriodEnd)}}}
	for _, p := range s.Programs {
		r.Data.Lines = append(r.Data.Lines, WorkdaySOAPLine{ProgramID: p.Code, VolunteerHours: p.VolunteerHours,
			Donation: WorkdayAmount{Currency: s.Currency, Value: p.Donations}, Participants: p.Participants, Outcomes: p.Outcomes})
	}
	return r
}
