package templates

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEveryTemplateRendersInEveryLocale(t *testing.T) {
	for _, name := range Names {
		for _, locale := range Locales {
			t.Run(name+"/"+locale, func(t *testing.T) {
				data, err := Sample(name)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Render(name, locale, data)
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				if r.Subject == "" || strings.Contains(r.Subject, "\n") {
					t.Errorf("subject %q", r.Subject)
				}
				for _, part := range []string{r.HTML, r.Text, r.Subject} {
					if strings.Contains(part, "<no value>") || strings.Contains(part, "{{") {
						t.Errorf("unrendered placeholder in %q", part)
					}
				}
				if !strings.Contains(r.HTML, `name="viewport"`) || !strings.Contains(r.HTML, `style="`) || strings.Contains(r.HTML, "<style") {
					t.Error("HTML part is not responsive with inlined CSS")
				}
				if !strings.Contains(r.HTML, `lang="`+locale+`"`) {
					t.Error("HTML part does not carry its locale")
				}
				// Every variable shows up in both parts.
				for _, v := range Variables(name) {
					want := fmt.Sprint(data[v])
					if !strings.Contains(r.Text, want) {
						t.Errorf("text part lacks %s=%q", v, want)
					}
					if !strings.Contains(r.HTML, want) && !strings.Contains(r.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
						t.Errorf("HTML part lacks %s=%q", v, want)
					}
				}
			})
		}
	}
}

func TestMissingVariableIsAnError(t *testing.T) {
	for _, name := range Names {
		for _, v := range Variables(name) {
			data, _ := Sample(name)
			delete(data, v)
			_, err := Render(name, "fr", data)
			var missing *MissingVariableError
			if !errors.As(err, &missing) {
				t.Errorf("%s without %s: err = %v, want a MissingVariableError", name, v, err)
			}
		}
	}
}

func TestUserDataIsEscaped(t *testing.T) {
	data, _ := Sample(Welcome)
	data["name"] = `<script>alert("x")</script>`
	data["login_url"] = "javascript:alert(1)"
	r, err := Render(Welcome, "en", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script>") || strings.Contains(r.HTML, "javascript:") {
		t.Fatalf("HTML part not escaped:\n%s", r.HTML)
	}
	if !strings.Contains(r.HTML, "&lt;script&gt;") {
		t.Fatal("escaped name missing from the HTML part")
	}
	if !strings.Contains(r.Text, `<script>alert("x")</script>`) {
		t.Fatal("text part should carry the name as written")
	}
}

func TestUnknownTemplateAndLocale(t *testing.T) {
	if _, err := Render("nope", "en", nil); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("unknown template: %v", err)
	}
	if _, err := Render(Welcome, "de", nil); !errors.Is(err, ErrUnknownLocale) {
		t.Errorf("unknown locale: %v", err)
	}
}

func TestRenderPlainEscapesBody(t *testing.T) {
	r, err := RenderPlain("Hi <b>", "one & two\n\n<i>three</i>")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.HTML, "one &amp; two") || strings.Contains(r.HTML, "<i>") || !strings.Contains(r.HTML, "Hi &lt;b&gt;") {
		t.Fatalf("not escaped:\n%s", r.HTML)
	}
}
