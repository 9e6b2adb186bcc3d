package demo

import (
	"math/rand/v2"
	"strings"
)

// nameList draws names plausible for a locale.
type nameList struct {
	firsts, lasts []string
	// twoSurnames: Spanish names carry both parents' surnames, most of the time.
	twoSurnames bool
}

// draw returns a first name and a full name.
func (n nameList) draw(r *rand.Rand) (first, full string) {
	first = n.firsts[r.IntN(len(n.firsts))]
	full = first + " " + n.lasts[r.IntN(len(n.lasts))]
	if n.twoSurnames && r.Float64() < 0.8 {
		full += " " + n.lasts[r.IntN(len(n.lasts))]
	}
	return first, full
}

var spanishNames = nameList{twoSurnames: true,
	firsts: strings.Fields(`María Lucía Carmen Laura Marta Paula Ana Elena Sara Claudia Alba Irene Nerea Cristina
		Raquel Rocío Nuria Pilar Inés Sofía Valeria Daniela Julia Noelia Ainhoa Montserrat Lorena Beatriz Aitana
		Javier Alejandro Daniel David Pablo Sergio Carlos Jorge Álvaro Adrián Diego Manuel Antonio Francisco
		Miguel Rubén Iván Hugo Marcos Raúl Íker Unai Jordi Xavier Gonzalo Óscar Tomás Mohamed Yeray`),
	lasts: strings.Fields(`García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez
		Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos
		Gil Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez
		Iglesias Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego
		Vidal León Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Caballero Reyes Nieto
		Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Benítez Mora
		Vicente Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo
		Gallardo Rojas Etxeberria Garmendia Puig`),
}

var frenchNames = nameList{
	firsts: strings.Fields(`Camille Léa Manon Chloé Emma Inès Sarah Julie Marie Élodie Claire Sophie Anaïs
		Pauline Céline Nathalie Amélie Louise Zoé Océane Fatima Yasmine Margaux Aurélie Lucas Hugo Louis Thomas
		Nicolas Julien Antoine Maxime Alexandre Mathieu Romain Théo Quentin Pierre Baptiste Guillaume Karim
		Mehdi Olivier François Benoît Stéphane Yann Arnaud Jérôme Moussa`),
	lasts: strings.Fields(`Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent
		Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre Mercier Dupont
		Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel
		Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez
		Gérard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Perez
		Marchand Dufour Blanchard Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Benali Haddad
		Traoré Diallo Kerbrat Lebreton`),
}

var americanNames = nameList{
	firsts: strings.Fields(`Emily Olivia Ava Madison Jessica Ashley Hannah Sophia Grace Chloe Aaliyah Jasmine
		Priya Mei Ana Gabriela Keisha Megan Rachel Lauren Destiny Brianna Michael James Christopher Matthew
		Joshua Daniel David Andrew Tyler Brandon Jordan Marcus Darnell Jamal Wei Raj Arjun Luis Carlos Kevin
		Ethan Noah Ryan Nathan Mateo Andre`),
	lasts: strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
		Lopez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson
		Walker Young Allen King Wright Scott Nguyen Hill Green Adams Baker Nelson Carter Mitchell Perez Roberts
		Turner Phillips Campbell Parker Evans Edwards Collins Patel Chen Kim Washington Okafor O'Brien Murphy
		Rivera Cohen Kowalski Shapiro Reyes Brooks`),
}

var britishNames = nameList{
	firsts: strings.Fields(`Oliver George Harry Jack Jacob Charlie Thomas Oscar William James Mohammed Arjun
		Callum Rhys Liam Ewan Alfie Finley Amelia Olivia Isla Emily Ava Jessica Sophie Grace Poppy Evie Ella
		Freya Chloe Niamh Aisha Priya Zara Megan Bethan Eilidh Ruby Imogen`),
	lasts: strings.Fields(`Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson
		Evans Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Hughes Edwards Hill
		Moore Turner Harris Cooper Ward Morris King Baker Harrison Morgan Allen Ahmed Hussain Begum MacDonald
		Campbell Stewart O'Neill Murphy Kaur Singh Okoye Mensah Pritchard Fraser`),
}

// city is where a participant lives and takes part.
type city struct {
	name  string
	state string   // US state; "" elsewhere
	area  []string // US area codes
	post  []string // postcode prefixes (ES, FR, US) or outward codes (UK)
}

var spanishCities = []city{
	{name: "Madrid", post: []string{"280"}}, {name: "Barcelona", post: []string{"080"}},
	{name: "Sevilla", post: []string{"410"}}, {name: "Valencia", post: []string{"460"}},
	{name: "Bilbao", post: []string{"480"}}, {name: "Zaragoza", post: []string{"500"}},
}

var frenchCities = []city{
	{name: "Paris", post: []string{"750"}}, {name: "Lyon", post: []string{"6900"}},
	{name: "Lille", post: []string{"5900", "5980"}}, {name: "Marseille", post: []string{"130"}},
	{name: "Nantes", post: []string{"4400", "4410"}}, {name: "Bordeaux", post: []string{"3300", "3380"}},
}

var americanCities = []city{
	{name: "New York", state: "NY", area: []string{"212", "646", "917"}, post: []string{"100"}},
	{name: "Brooklyn", state: "NY", area: []string{"718", "347"}, post: []string{"112"}},
	{name: "Boston", state: "MA", area: []string{"617", "857"}, post: []string{"021"}},
	{name: "Philadelphia", state: "PA", area: []string{"215", "267"}, post: []string{"191"}},
	{name: "Pittsburgh", state: "PA", area: []string{"412"}, post: []string{"152"}},
	{name: "Newark", state: "NJ", area: []string{"973", "862"}, post: []string{"071"}},
}

var britishCities = []city{
	{name: "London", post: []string{"E1", "N7", "SE15", "SW9", "E17", "NW6"}},
	{name: "Manchester", post: []string{"M14", "M20", "M4"}}, {name: "Leeds", post: []string{"LS6", "LS11", "LS8"}},
	{name: "Bristol", post: []string{"BS5", "BS3", "BS7"}}, {name: "Glasgow", post: []string{"G12", "G41", "G31"}},
	{name: "Cardiff", post: []string{"CF24", "CF11", "CF5"}},
}

// addressBook writes a street address in a city, the way the locale writes it.
type addressBook func(r *rand.Rand, c city) string

func spanishAddresses(r *rand.Rand, c city) string {
	streets := []string{"Calle de Alcalá", "Calle Mayor", "Avenida de la Constitución", "Calle del Carmen",
		"Calle Real", "Avenida del Puerto", "Calle de Bailén", "Plaza de España", "Calle San Vicente", "Calle Goya"}
	floor := []string{"1º A", "2º B", "3º izda.", "4º dcha.", "bajo", "5º C", "2º 1ª"}
	return streets[r.IntN(len(streets))] + " " + itoa(1+r.IntN(140)) + ", " + floor[r.IntN(len(floor))] + ", " +
		c.post[r.IntN(len(c.post))] + pad(r.IntN(50)+1, 2) + " " + c.name
}

func frenchAddresses(r *rand.Rand, c city) string {
	streets := []string{"rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire",
		"rue des Lilas", "rue Nationale", "allée des Tilleuls", "place de la Mairie", "rue du Moulin", "impasse des Roses"}
	num := itoa(1 + r.IntN(90))
	if r.Float64() < 0.1 {
		num += " bis"
	}
	post := c.post[r.IntN(len(c.post))]
	if len(post) == 3 {
		post += pad(1+r.IntN(16), 2)
	} else {
		post += itoa(r.IntN(9))
	}
	return num + " " + streets[r.IntN(len(streets))] + ", " + post + " " + c.name
}

func americanAddresses(r *rand.Rand, c city) string {
	streets := []string{"Maple Avenue", "Oak Street", "Washington Street", "Atlantic Avenue", "Elm Street",
		"Park Place", "Chestnut Street", "Franklin Avenue", "Main Street", "Spruce Street"}
	s := itoa(10+r.IntN(2400)) + " " + streets[r.IntN(len(streets))]
	if r.Float64() < 0.5 {
		s += ", Apt " + itoa(1+r.IntN(12)) + string(rune('A'+r.IntN(6)))
	}
	return s + ", " + c.name + ", " + c.state + " " + c.post[r.IntN(len(c.post))] + pad(r.IntN(99)+1, 2)
}

func britishAddresses(r *rand.Rand, c city) string {
	streets := []string{"Victoria Road", "Church Street", "Station Road", "High Street", "Park Lane",
		"Queen's Road", "Mill Lane", "Albert Terrace", "Grove Crescent", "Chapel Street"}
	s := itoa(1+r.IntN(180)) + " " + streets[r.IntN(len(streets))]
	if r.Float64() < 0.3 {
		s = "Flat " + itoa(1+r.IntN(9)) + ", " + s
	}
	// Inward codes never use C, I, K, M, O or V.
	const letters = "ABDEFGHJLNPQRSTUWXYZ"
	return s + ", " + c.name + " " + c.post[r.IntN(len(c.post))] + " " + itoa(r.IntN(10)) +
		string(letters[r.IntN(len(letters))]) + string(letters[r.IntN(len(letters))])
}

// Phone numbers, in each country's usual international or national format. The UK, US and
// French ones come from the ranges each regulator reserves for fiction.

func spanishPhone(r *rand.Rand, _ int) string {
	return "+34 6" + pad(r.IntN(100), 2) + " " + pad(r.IntN(1000), 3) + " " + pad(r.IntN(1000), 3)
}

func frenchPhone(r *rand.Rand, _ int) string {
	return "+33 6 39 98 " + pad(r.IntN(100), 2) + " " + pad(r.IntN(100), 2)
}

func americanPhone(r *rand.Rand, c int) string {
	area := americanCities[c].area
	return "(" + area[r.IntN(len(area))] + ") 555-01" + pad(r.IntN(100), 2)
}

func britishPhone(r *rand.Rand, _ int) string {
	return "+44 7700 900" + pad(r.IntN(1000), 3)
}

// personalEmail makes an address from a name, on a domain reserved for examples.
func personalEmail(r *rand.Rand, fullName string, domains []string) string {
	parts := strings.Fields(asciiFold(fullName))
	first, last := parts[0], parts[1]
	var local string
	switch r.IntN(5) {
	case 0, 1:
		local = first + "." + last
	case 2:
		local = first + last + itoa(r.IntN(90)+10)
	case 3:
		local = first[:1] + last
	default:
		local = first + "_" + last + itoa(r.IntN(9)+1)
	}
	return local + "@" + domains[r.IntN(len(domains))]
}

// asciiFold lowercases a name and drops its accents and punctuation, as people do when
// they pick an email address.
func asciiFold(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == ' ':
			b.WriteRune(c)
		default:
			if f, ok := foldRunes[c]; ok {
				b.WriteString(f)
			}
		}
	}
	return b.String()
}

var foldRunes = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "a", 'ã': "a", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ó': "o", 'ò': "o", 'ô': "o", 'ö': "o", 'õ': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "u", 'ñ': "n", 'ç': "c", 'œ': "oe", 'æ': "ae",
}
