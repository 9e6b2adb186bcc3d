package api

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/store"
)

// TestDeliveryPageJSONMatchesEncodingJSON fills every field of store.Delivery (by
// reflection, so that a field added later is filled too) with awkward values and checks
// that the hand-written encoding is byte for byte encoding/json's.
func TestDeliveryPageJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "delivery-0b9e", "benevity", `say "hi"`, `back\slash`, "<b>&amp;</b>", "tab\there\nline",
		"\x01\x7f", "naïve café", "line\u2028sep", "bad \xff utf-8", "emoji 🎉"}
	zones := []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("", -7*3600)}
	rng := rand.New(rand.NewPCG(7, 11))
	randTime := func() time.Time {
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
	}
	for round := range 200 {
		page := store.DeliveryPage{Deliveries: make([]store.Delivery, rng.IntN(4))}
		for i := range page.Deliveries {
			v := reflect.ValueOf(&page.Deliveries[i]).Elem()
			for f := range v.NumField() {
				switch field := v.Field(f); field.Interface().(type) {
				case string:
					field.SetString(strs[rng.IntN(len(strs))])
				case int:
					field.SetInt([]int64{0, 1, 503, -4}[rng.IntN(4)])
				case time.Time:
					field.Set(reflect.ValueOf(randTime()))
				case *time.Time:
					if rng.IntN(2) == 0 {
						tm := randTime()
						field.Set(reflect.ValueOf(&tm))
					}
				default:
					t.Fatalf("store.Delivery.%s is a %s: teach deliveryPageJSON and this test about it", v.Type().Field(f).Name, field.Type())
				}
			}
		}
		if round%2 == 0 {
			page.NextCursor = strs[rng.IntN(len(strs))]
		}
		want, err := json.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		got, err := deliveryPageJSON(page)
		if err != nil || string(got) != string(want) {
			t.Fatalf("deliveryPageJSON =\n%s, %v\nencoding/json =\n%s", got, err, want)
		}
	}
}

func TestDeliveryPageJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	page := store.DeliveryPage{Deliveries: []store.Delivery{{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := json.Marshal(page); err == nil {
		t.Fatal("encoding/json took a year past 9999")
	}
	if _, err := deliveryPageJSON(page); err == nil {
		t.Fatal("deliveryPageJSON took a year past 9999")
	}
}
