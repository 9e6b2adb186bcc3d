package demo

import "math/rand/v2"

// programKind decides how a program's activity unfolds.
type programKind int

const (
	kindMentoring programKind = iota
	kindTraining
	kindVolunteering
	kindDonation
)

// programSpec is a program and the shape of its activity.
type programSpec struct {
	code, name, description string
	kind                    programKind
	metric                  string  // what outcome surveys measure; "" for none
	popularity              float64 // relative chance of being a participant's program
	cadence                 float64 // days between sessions (gifts, for donations)
	minSessions             int
	maxSessions             int
	drop                    float64 // typical chance of dropping out after a session
	outcomeEvery            int     // completed sessions between outcome surveys
	hourFrom, hourTo        int     // local hours sessions start between
	minMinutes, maxMinutes  int     // session length
	weekend                 bool    // sessions may fall on a Saturday
	campaign                string  // donations: attributes.campaign
	theme                   string  // picks outcome phrases of its own: "reading", "digital", "finance"
}

// themed gives the program outcome phrases of its own.
func (p *programSpec) themed(theme string) *programSpec {
	p.theme = theme
	return p
}

// dstRule is when a tenant's clocks move forward an hour.
type dstRule int

const (
	dstEU dstRule = iota // last Sunday of March to last Sunday of October
	dstUS                // second Sunday of March to first Sunday of November
)

// profile is a demo tenant and everything its data is generated from.
type profile struct {
	id, name, industry, region, sizeBand, timezone, locale string

	currency     string
	utcOffset    int // standard time, hours east of UTC
	dst          dstRule
	season       [12]float64 // chance that a session planned in each month takes place
	participants int
	snippets     int
	names        nameList
	cities       []city
	address      addressBook
	emailDomains []string
	phone        func(r *rand.Rand, city int) string
	langs        []string  // languages evidence is written in, the locale's first
	langWeights  []float64 // and how often
	staff        []string  // program coordinators
	places       map[string][]string
	idKinds      []piiKind // identity and bank details people in this country hand over
	ibans        []string  // test IBANs with valid check digits
	programs     []*programSpec
}

// euSeason is southern and western Europe: Easter, a deserted August and Christmas.
var euSeason = [12]float64{0.95, 1, 1, 0.88, 1, 0.95, 0.75, 0.3, 0.95, 1, 1, 0.55}

// ukSeason keeps more of the summer than the continent does.
var ukSeason = [12]float64{0.9, 1, 1, 0.9, 1, 0.95, 0.85, 0.55, 1, 1, 1, 0.5}

// usSeason has Thanksgiving and a shorter summer lull.
var usSeason = [12]float64{0.9, 1, 1, 1, 0.95, 0.85, 0.75, 0.6, 1, 1, 0.85, 0.5}

// givingSeason is for donations, which hold up at the end of the year.
var givingSeason = [12]float64{0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.75, 0.6, 0.85, 0.85, 1, 1}

func mentoring(code, name, description, metric string, popularity float64) *programSpec {
	return &programSpec{code: code, name: name, description: description, kind: kindMentoring, metric: metric,
		popularity: popularity, cadence: 7, minSessions: 20, maxSessions: 60, drop: 0.01, outcomeEvery: 6,
		hourFrom: 9, hourTo: 19, minMinutes: 45, maxMinutes: 90}
}

func training(code, name, description, metric string, popularity float64) *programSpec {
	return &programSpec{code: code, name: name, description: description, kind: kindTraining, metric: metric,
		popularity: popularity, cadence: 3.5, minSessions: 16, maxSessions: 72, drop: 0.01, outcomeEvery: 8,
		hourFrom: 9, hourTo: 18, minMinutes: 60, maxMinutes: 180}
}

func volunteering(code, name, description string, popularity float64) *programSpec {
	return &programSpec{code: code, name: name, description: description, kind: kindVolunteering, metric: "wellbeing",
		popularity: popularity, cadence: 9, minSessions: 10, maxSessions: 40, drop: 0.01, outcomeEvery: 10,
		hourFrom: 8, hourTo: 15, minMinutes: 30, maxMinutes: 480, weekend: true}
}

func donations(code, name, description, campaign string, popularity float64) *programSpec {
	return &programSpec{code: code, name: name, description: description, kind: kindDonation,
		popularity: popularity, cadence: 30, minSessions: 6, maxSessions: 14, drop: 0.02, campaign: campaign}
}

// profiles are the demo tenants. "demo" is the dev admin's tenant and has the most data.
func profiles() []*profile {
	return []*profile{
		{
			id: "demo", name: "Acme Renewables", industry: "energy", region: "eu-south", sizeBand: "1000-5000",
			timezone: "Europe/Madrid", locale: "es", currency: "EUR", utcOffset: 1, dst: dstEU, season: euSeason,
			participants: 880, snippets: 200, names: spanishNames, cities: spanishCities, address: spanishAddresses,
			emailDomains: []string{"example.com", "correo.example.com", "example.net", "example.org"},
			phone:        spanishPhone, langs: []string{"es", "en"}, langWeights: []float64{0.85, 0.15},
			staff: []string{"Laura Sánchez Ortega", "Javier Morales Gil", "Nuria Castillo Peña"},
			places: map[string][]string{
				"es": {"la Sierra de Guadarrama", "la playa de la Malvarrosa", "el Parque del Retiro", "el banco de alimentos de Sevilla", "la ribera del Ebro"},
				"en": {"the Guadarrama hills", "Malvarrosa beach", "Retiro Park", "the Seville food bank", "the banks of the Ebro"},
			},
			idKinds: []piiKind{piiIBAN}, ibans: []string{"ES9121000418450200051332", "ES7921000813610123456789"},
			programs: []*programSpec{
				mentoring("mentoring", "Mentoría Jóvenes Talentos", "Mentoría individual de empleados de Acme a jóvenes de 16 a 24 años que buscan su primer empleo.", "confidence", 1.3),
				training("green-skills", "Formación en Energías Verdes", "Curso práctico de instalación y mantenimiento de renovables para personas desempleadas.", "employability", 1.1),
				volunteering("volunteering", "Voluntariado Ambiental", "Jornadas de reforestación, limpieza de playas y apoyo a bancos de alimentos.", 1.2),
				donations("energy-poverty-fund", "Fondo contra la Pobreza Energética", "Donaciones de la plantilla, dobladas por la empresa, para pagar facturas de hogares vulnerables.", "invierno-calido", 0.9),
				training("digital-literacy", "Alfabetización Digital para Mayores", "Talleres para que personas mayores aprendan a usar el móvil, la banca online y la administración electrónica.", "literacy", 0.7).themed("digital"),
			},
		},
		{
			id: "lumiere-bank", name: "Banque Lumière", industry: "banking", region: "eu-west", sizeBand: "10000+",
			timezone: "Europe/Paris", locale: "fr", currency: "EUR", utcOffset: 1, dst: dstEU, season: euSeason,
			participants: 340, snippets: 90, names: frenchNames, cities: frenchCities, address: frenchAddresses,
			emailDomains: []string{"example.com", "courriel.example.net", "example.org", "mail.example.com"},
			phone:        frenchPhone, langs: []string{"fr", "en"}, langWeights: []float64{0.88, 0.12},
			staff: []string{"Claire Fontaine", "Mathieu Girard", "Amélie Roussel"},
			places: map[string][]string{
				"fr": {"la Banque Alimentaire de Lyon", "une école de Lille", "un restaurant solidaire de Nantes", "une association de quartier à Marseille"},
				"en": {"the Lyon food bank", "a school in Lille", "a Nantes soup kitchen", "a neighbourhood charity in Marseille"},
			},
			idKinds: []piiKind{piiIBAN}, ibans: []string{"FR1420041010050500013M02606", "FR7630006000011234567890189"},
			programs: []*programSpec{
				training("financial-literacy", "Éducation financière pour tous", "Ateliers de gestion du budget, d'épargne et de prévention du surendettement animés par des conseillers de la banque.", "literacy", 1.2).themed("finance"),
				mentoring("mentoring", "Parrainage Jeunes Diplômés", "Des collaborateurs parrainent des jeunes diplômés issus de quartiers prioritaires pendant leur recherche d'emploi.", "employability", 1.0),
				volunteering("skills-volunteering", "Mécénat de compétences", "Des collaborateurs mettent leurs compétences au service d'associations partenaires sur leur temps de travail.", 1.0),
				donations("round-up-giving", "L'arrondi solidaire", "L'arrondi sur salaire : chaque mois, les centimes de la paie vont à une association, abondés par la banque.", "arrondi-2026", 0.8),
			},
		},
		{
			id: "brightpath", name: "Brightpath Software", industry: "technology", region: "us-east", sizeBand: "250-1000",
			timezone: "America/New_York", locale: "en", currency: "USD", utcOffset: -5, dst: dstUS, season: usSeason,
			participants: 300, snippets: 80, names: americanNames, cities: americanCities, address: americanAddresses,
			emailDomains: []string{"example.com", "mail.example.com", "example.net", "example.org"},
			phone:        americanPhone, langs: []string{"en", "es"}, langWeights: []float64{0.9, 0.1},
			staff: []string{"Rachel Kim", "Marcus Turner", "Gabriela Rivera"},
			places: map[string][]string{
				"en": {"the Brooklyn food pantry", "a Boston public library", "a Philadelphia community garden", "a Newark high school"},
				"es": {"la despensa de alimentos de Brooklyn", "una biblioteca pública de Boston", "un huerto comunitario de Filadelfia", "un instituto de Newark"},
			},
			idKinds: []piiKind{piiSSN},
			programs: []*programSpec{
				mentoring("code-mentors", "Code Mentors", "Brightpath engineers mentor high-school and community-college students learning to code.", "confidence", 1.2),
				training("career-launch", "Career Launch Bootcamp", "A 12-week bootcamp in web development and interview skills for career changers.", "employability", 1.0),
				volunteering("volunteer-days", "Volunteer Days", "Paid volunteering days at food pantries, libraries and community gardens.", 1.0),
				donations("matching-gifts", "Matching Gifts", "Employee donations to eligible nonprofits, matched dollar for dollar.", "giving-tuesday", 0.9),
			},
		},
		{
			id: "harbour-finch", name: "Harbour & Finch", industry: "retail", region: "uk", sizeBand: "5000-10000",
			timezone: "Europe/London", locale: "en", currency: "GBP", utcOffset: 0, dst: dstEU, season: ukSeason,
			participants: 320, snippets: 80, names: britishNames, cities: britishCities, address: britishAddresses,
			emailDomains: []string{"example.com", "example.org", "mail.example.net", "post.example.com"},
			phone:        britishPhone, langs: []string{"en"}, langWeights: []float64{1},
			staff: []string{"Bethan Hughes", "Callum Stewart", "Priya Shah"},
			places: map[string][]string{
				"en": {"the Leeds community garden", "a Glasgow food bank", "a Bristol primary school", "the Cardiff canal towpath"},
			},
			idKinds: []piiKind{piiNINO, piiIBAN}, ibans: []string{"GB82WEST12345698765432", "GB33BUKB20201555555555"},
			programs: []*programSpec{
				training("ready-for-work", "Ready for Work", "Retail skills, CV writing and mock interviews for young people not in education or employment.", "employability", 1.2),
				mentoring("reading-buddies", "Reading Buddies", "Colleagues read weekly with primary-school pupils who are behind with their reading.", "literacy", 1.0).themed("reading"),
				volunteering("community-volunteering", "Community Volunteering", "Two paid volunteering days a year with local charities near our stores.", 1.1),
				donations("food-bank-appeal", "Food Bank Appeal", "Payroll giving and store collections for food banks near our stores.", "winter-appeal", 0.8),
			},
		},
	}
}
