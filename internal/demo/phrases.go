package demo

// piiKind is a kind of personal data a snippet may give away.
type piiKind int

const (
	piiPhone piiKind = iota
	piiEmail
	piiAddress
	piiIBAN
	piiCard
	piiSSN
	piiNINO
	piiKinds
)

// phrasebook holds the sentence fragments evidence is assembled from, in one language.
// Placeholders in braces ({name}, {mentor}, {phone}, …) are filled per snippet. Notes and
// interviews are in a coordinator's voice; surveys and emails in the participant's.
type phrasebook struct {
	months   [12]string
	activity [4]string // by programKind

	// Lists come in pairs: one for programs of sessions, one for giving (donations).
	noteOpen     [2][]string // names the participant
	noteOpenAnon [2][]string
	noteOutcome  [4][]string         // by programKind
	noteTheme    map[string][]string // by programSpec.theme, instead of noteOutcome
	noteFeeling  [2][]string
	noteQuote    []string
	noteNext     [2][]string
	notePII      [piiKinds][]string

	selfOpen    [2][]string
	selfOutcome [4][]string
	selfTheme   map[string][]string
	selfFeeling [2][]string
	selfNext    [2][]string
	selfPII     [piiKinds][]string
	greeting    []string
	signoff     []string
	surveySign  []string
}

var phrasebooks = map[string]*phrasebook{"es": &spanish, "fr": &french, "en": &english}

var spanish = phrasebook{
	months:   [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	activity: [4]string{"la mentoría", "el curso", "el voluntariado", "el programa de donaciones"},
	noteOpen: [2][]string{{
		"Seguimiento con {name} en {city}.",
		"Llamada de seguimiento con {name} el {today}.",
		"Entrevista con {name}, participante de {program}.",
		"{name} ha asistido a {n} sesiones desde {month}.",
		"Reunión con {name} y su responsable, {manager}.",
		"Hoy {first} llegó puntual a la sesión con {mentor}.",
	}, {
		"Llamada de {name} el {today}.",
		"Correo de {name}, donante de {program} desde {month}.",
		"Consulta de {name} ({city}) sobre {program}.",
	}},
	noteOpenAnon: [2][]string{
		{"Sesión de seguimiento en {city}.", "Nota tras la sesión del {today}.", "Revisión trimestral de {program}."},
		{"Consulta de un donante de {city}.", "Revisión trimestral de {program}."},
	},
	noteOutcome: [4][]string{
		{
			"Con la ayuda de {mentor} ha preparado su CV y ya tiene dos entrevistas concertadas.",
			"Según {mentor}, {first} ya se marca sus propios objetivos y los cumple.",
			"Ha hecho una entrevista simulada y la ha superado con nota.",
			"Ha decidido matricularse en un ciclo de FP de electricidad.",
			"Busca prácticas y {mentor} le ha pasado tres contactos.",
		},
		{
			"Ha completado {n} sesiones del curso y aprobó la prueba práctica con un {score} sobre 100.",
			"Ya maneja sin ayuda las herramientas que vimos en clase.",
			"Ha conseguido una entrevista de trabajo gracias a la bolsa de empleo del curso.",
			"Le cuestan las clases teóricas, pero en las prácticas destaca.",
		},
		{
			"Participó en la jornada de {place} con {hours} horas de voluntariado.",
			"Coordinó a un grupo de ocho voluntarios en {place}, junto con {peer}.",
			"Lleva {hours} horas de voluntariado este trimestre, sobre todo en {place}.",
		},
		{
			"Ha aumentado su donación mensual a {amount}.",
			"Pide el certificado de donaciones para la declaración de la renta.",
			"Su donación de {amount} se ha duplicado con la aportación de la empresa.",
		},
	},
	noteTheme: map[string][]string{"digital": {
		"Ya hace videollamadas con su familia sin ayuda.",
		"Ha pedido cita en el centro de salud por internet por primera vez.",
		"Ha aprendido a reconocer mensajes fraudulentos y ya no abre enlaces sospechosos.",
		"Ha completado {n} talleres y ya hace la compra por internet.",
	}},
	noteFeeling: [2][]string{{
		"Se le nota más motivación que al principio.",
		"Comenta que al principio le costaba, pero que ahora disfruta mucho.",
		"Dice que las sesiones le han dado tranquilidad en un momento difícil.",
		"Se le ve con menos energía que el mes pasado; hay que estar atentos.",
		"Su familia está muy contenta con el cambio.",
	}, {
		"Agradece que le contemos qué familias han recibido la ayuda.",
		"Dice que es una forma sencilla de ayudar cada mes.",
	}},
	noteQuote: []string{
		"En sus palabras: «Ahora sé lo que quiero hacer».",
		"Nos dijo: «{mentorFirst} me escucha de verdad».",
		"«Nunca pensé que llegaría hasta aquí», comentó {first} al final de la sesión.",
		"Cita textual: «Lo mejor ha sido conocer a gente que cree en mí».",
	},
	noteNext: [2][]string{{
		"Próximo paso: revisar el CV con {manager} antes de fin de mes.",
		"Acordamos una nueva sesión el {date}.",
		"Queda pendiente enviarle el certificado de participación.",
		"Volvemos a hablar en dos semanas.",
		"Avisar a {coord} para que le reserve plaza en la próxima edición.",
	}, {
		"Le enviaremos el resumen anual de sus donaciones antes del {date}.",
		"Pasar el caso a {coord} para revisar el cargo.",
	}},
	notePII: [piiKinds][]string{
		piiPhone:   {"Su nuevo móvil es el {phone}.", "Prefiere que le llamemos al {phone} por las tardes."},
		piiEmail:   {"Ha cambiado de correo: {email}.", "Enviar la documentación a {email}."},
		piiAddress: {"Enviar el certificado a {address}.", "Se ha mudado a {address}."},
		piiIBAN:    {"Para reembolsarle el transporte nos ha dado su IBAN: {iban}.", "Para hacerle la devolución nos facilita su IBAN {iban}."},
		piiCard:    {"Hizo la donación con la tarjeta {card} y se le cobró dos veces; hay que devolverla."},
		piiSSN:     {"SSN para el papeleo del estipendio: {ssn}."},
	},
	selfOpen: [2][]string{{
		"Mi experiencia en {program} ha sido muy buena.",
		"Quería contaros cómo me va con {activity}.",
		"Llevo {n} sesiones y me alegro mucho de haberme apuntado.",
		"Os escribo para daros las gracias por {activity}.",
	}, {
		"Dono a {program} desde {month}.",
		"Os escribo por {activity}.",
	}},
	selfOutcome: [4][]string{
		{
			"Gracias a {mentorFirst} he preparado mi primera entrevista de trabajo.",
			"He aprendido a organizar mi tiempo y a pedir ayuda cuando la necesito.",
			"Con {mentorFirst} he decidido qué quiero estudiar el año que viene.",
		},
		{
			"He aprendido cosas que pensaba que nunca entendería.",
			"El curso me ha dado las herramientas para buscar trabajo en el sector.",
			"Ya he aprobado {n} módulos y voy a por el siguiente.",
		},
		{
			"Este mes hice {hours} horas de voluntariado en {place} y repetiría sin dudarlo.",
			"Conocí a compañeros de otros departamentos trabajando en {place}.",
		},
		{
			"Me alegra saber exactamente a qué se destina mi donación.",
			"He subido mi aportación mensual a {amount}.",
			"Me gustaría que la empresa doblara también las donaciones puntuales.",
		},
	},
	selfTheme: map[string][]string{"digital": {
		"Ya puedo hacer videollamadas con mis nietos sin ayuda.",
		"He pagado un recibo con la aplicación del banco por primera vez.",
		"He aprendido a distinguir cuándo un mensaje es un timo.",
	}},
	selfFeeling: [2][]string{{
		"Me siento con mucha más confianza.",
		"Al principio me daba vergüenza, ahora participo sin problema.",
		"Ha sido de lo mejor que me ha pasado este año.",
		"A veces me cuesta compaginarlo con el trabajo, pero merece la pena.",
	}, {
		"Es poco dinero, pero sé que ayuda.",
		"Me hace sentir orgulloso de trabajar aquí.",
	}},
	selfNext: [2][]string{{
		"Me gustaría seguir el próximo trimestre.",
		"Quiero apuntarme a la siguiente edición.",
		"¿Podríais enviarme el certificado de asistencia?",
		"El {date} no podré ir; ¿se puede cambiar la sesión?",
	}, {
		"¿Podríais enviarme el certificado para Hacienda?",
		"Quiero seguir donando el año que viene.",
	}},
	selfPII: [piiKinds][]string{
		piiPhone:   {"Mi teléfono nuevo es el {phone}.", "Podéis llamarme al {phone}."},
		piiEmail:   {"Escribidme mejor a {email}."},
		piiAddress: {"Mi dirección para el diploma es {address}."},
		piiIBAN:    {"Os dejo mi IBAN para el reembolso: {iban}."},
		piiCard:    {"Hice la donación con la tarjeta {card} y me la han cobrado dos veces."},
		piiSSN:     {"Para el formulario del estipendio, mi número de seguro social es {ssn}."},
	},
	greeting:   []string{"Hola, {coord}:", "Buenos días, {coord}:", "Hola:"},
	signoff:    []string{"Un saludo,\n{name}", "Gracias,\n{first}", "Saludos,\n{name}\n{phone}"},
	surveySign: []string{"— {first}", "Nombre: {name}"},
}

var french = phrasebook{
	months:   [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	activity: [4]string{"le mentorat", "la formation", "le bénévolat", "le programme de dons"},
	noteOpen: [2][]string{{
		"Point de suivi avec {name} à {city}.",
		"Appel de suivi avec {name} le {today}.",
		"Entretien avec {name} dans le cadre du programme {program}.",
		"{name} a assisté à {n} séances depuis {month}.",
		"Réunion avec {name} et son manager, {manager}.",
		"Séance du jour entre {first} et {mentor}.",
	}, {
		"Appel de {name} le {today}.",
		"Message de {name}, donateur de {program} depuis {month}.",
		"Question de {name} ({city}) sur {program}.",
	}},
	noteOpenAnon: [2][]string{
		{"Point d'étape après la séance du {today}.", "Bilan trimestriel du programme {program}.", "Séance de suivi à {city}."},
		{"Question d'un donateur de {city}.", "Bilan trimestriel du programme {program}."},
	},
	noteOutcome: [4][]string{
		{
			"Avec l'aide de {mentor}, le CV est enfin prêt et deux entretiens d'embauche sont prévus.",
			"D'après {mentor}, {first} se fixe désormais ses propres objectifs et s'y tient.",
			"L'entretien blanc s'est très bien passé, la présentation est beaucoup plus claire.",
			"{first} cherche une alternance et {mentor} lui a transmis trois contacts.",
		},
		{
			"{n} séances suivies et le quiz final réussi avec {score}/100.",
			"Maîtrise désormais sans aide les outils vus en atelier.",
			"A décroché un entretien grâce au réseau du programme.",
			"Les ateliers théoriques restent difficiles, mais la mise en pratique est excellente.",
		},
		{
			"A participé à la journée solidaire à {place}, soit {hours} heures de bénévolat.",
			"A coordonné une équipe de six collègues à {place}, avec {peer}.",
			"Cumule {hours} heures de mécénat de compétences ce trimestre, surtout à {place}.",
		},
		{
			"A augmenté son don mensuel à {amount}.",
			"Demande le reçu fiscal de ses dons pour sa déclaration d'impôts.",
			"Son don de {amount} a été doublé par l'abondement de l'entreprise.",
		},
	},
	noteTheme: map[string][]string{"finance": {
		"Sait désormais établir un budget mensuel et comparer deux offres de crédit.",
		"A mis en place une épargne automatique de 30 € par mois.",
		"A renégocié son forfait téléphonique après l'atelier sur les dépenses contraintes.",
		"{n} ateliers suivis et le quiz final réussi avec {score}/100.",
	}},
	noteFeeling: [2][]string{{
		"Beaucoup plus de motivation qu'au début.",
		"Explique que les séances font du bien dans une période difficile.",
		"C'était dur au début, mais c'est devenu un vrai plaisir, selon ses mots.",
		"Un peu moins d'énergie que le mois dernier ; à surveiller.",
		"Sa famille est ravie du changement.",
	}, {
		"Apprécie de savoir quelles associations ont reçu les dons.",
		"Trouve que c'est une façon simple d'aider chaque mois.",
	}},
	noteQuote: []string{
		"Selon ses mots : « Maintenant, je sais ce que je veux faire ».",
		"Nous a dit : « {mentorFirst} m'écoute vraiment ».",
		"« Je n'aurais jamais cru arriver jusque-là », confie {first}.",
		"Citation : « Le mieux, c'est de rencontrer des gens qui croient en moi ».",
	},
	noteNext: [2][]string{{
		"Prochaine étape : revoir le CV avec {manager} avant la fin du mois.",
		"Nouvelle séance fixée au {date}.",
		"Reste à envoyer l'attestation de participation.",
		"On refait le point dans deux semaines.",
		"Prévenir {coord} pour réserver une place à la prochaine session.",
	}, {
		"Envoyer le récapitulatif annuel des dons avant le {date}.",
		"Transmettre à {coord} pour vérifier le prélèvement.",
	}},
	notePII: [piiKinds][]string{
		piiPhone:   {"Nouveau portable : {phone}.", "Joignable au {phone} en fin de journée."},
		piiEmail:   {"Nouvelle adresse e-mail : {email}.", "Envoyer les documents à {email}."},
		piiAddress: {"Adresse pour l'attestation : {address}.", "A déménagé : {address}."},
		piiIBAN:    {"IBAN communiqué pour le remboursement : {iban}.", "Rembourser les frais de transport sur l'IBAN {iban}."},
		piiCard:    {"Don réglé avec la carte {card}, débitée deux fois : à rembourser."},
	},
	selfOpen: [2][]string{{
		"Mon expérience dans le programme « {program} » est très positive.",
		"Je voulais vous raconter comment se passe {activity}.",
		"J'en suis à {n} séances et je ne regrette rien.",
		"Je vous écris pour vous remercier pour {activity}.",
	}, {
		"Je participe à {program} depuis {month}.",
		"Je vous écris au sujet du programme de dons.",
	}},
	selfOutcome: [4][]string{
		{
			"Grâce à {mentorFirst}, j'ai préparé mon premier entretien d'embauche.",
			"J'ai appris à mieux organiser mon temps et à demander de l'aide.",
			"Avec {mentorFirst}, j'ai choisi la formation que je veux suivre l'an prochain.",
		},
		{
			"J'ai appris des choses que je pensais ne jamais comprendre.",
			"Je me sens capable de postuler à des offres dans le secteur.",
			"J'ai validé {n} modules et je passe au suivant.",
		},
		{
			"Ce mois-ci j'ai fait {hours} heures de bénévolat à {place} et je recommencerai.",
			"J'ai rencontré des collègues d'autres services en travaillant à {place}.",
		},
		{
			"C'est motivant de savoir à quoi sert mon don.",
			"J'ai augmenté mon don mensuel à {amount}.",
			"J'aimerais que l'entreprise abonde aussi les dons ponctuels.",
		},
	},
	selfTheme: map[string][]string{"finance": {
		"Je sais enfin faire mon budget et je mets de côté chaque mois.",
		"J'ai compris comment fonctionne un crédit renouvelable et j'ai fermé le mien.",
		"J'ai ouvert un livret d'épargne pour mes enfants.",
	}},
	selfFeeling: [2][]string{{
		"J'ai beaucoup plus confiance en moi.",
		"Au début j'étais timide, maintenant je participe sans problème.",
		"C'est l'une des meilleures choses de mon année.",
		"C'est parfois dur à concilier avec le travail, mais ça vaut le coup.",
	}, {
		"Ce n'est pas grand-chose, mais je sais que ça compte.",
		"Ça me rend fier de travailler ici.",
	}},
	selfNext: [2][]string{{
		"J'aimerais continuer le trimestre prochain.",
		"Je veux m'inscrire à la prochaine session.",
		"Pourriez-vous m'envoyer l'attestation de présence ?",
		"Je ne pourrai pas venir le {date} ; est-il possible de décaler ?",
	}, {
		"Pourriez-vous m'envoyer le reçu fiscal ?",
		"Je compte continuer l'an prochain.",
	}},
	selfPII: [piiKinds][]string{
		piiPhone:   {"Mon nouveau numéro est le {phone}.", "Vous pouvez m'appeler au {phone}."},
		piiEmail:   {"Écrivez-moi plutôt à {email}."},
		piiAddress: {"Mon adresse pour le diplôme : {address}."},
		piiIBAN:    {"Voici mon IBAN pour le remboursement : {iban}."},
		piiCard:    {"J'ai fait mon don avec la carte {card} et j'ai été débité deux fois."},
	},
	greeting:   []string{"Bonjour {coord},", "Bonjour,", "Bonsoir {coord},"},
	signoff:    []string{"Cordialement,\n{name}", "Merci,\n{first}", "Bien à vous,\n{name}\n{phone}"},
	surveySign: []string{"— {first}", "Nom : {name}"},
}

var english = phrasebook{
	months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	activity: [4]string{"the mentoring", "the course", "the volunteering", "the giving campaign"},
	noteOpen: [2][]string{{
		"Check-in with {name} in {city}.",
		"Follow-up call with {name} on {today}.",
		"Interview with {name}, who joined {program} in {month}.",
		"{name} has attended {n} sessions since {month}.",
		"Meeting with {name} and their manager, {manager}.",
		"{first} arrived on time for today's session with {mentor}.",
	}, {
		"Call from {name} on {today}.",
		"Email from {name}, a donor to {program} since {month}.",
		"Query from {name} ({city}) about {program}.",
	}},
	noteOpenAnon: [2][]string{
		{"Notes from the session on {today}.", "Quarterly review of {program}.", "Check-in session in {city}."},
		{"Query from a donor in {city}.", "Quarterly review of {program}."},
	},
	noteOutcome: [4][]string{
		{
			"With {mentor}'s help the CV is finally done and two job interviews are lined up.",
			"According to {mentor}, {first} now sets their own goals and sticks to them.",
			"The mock interview went really well; the answers are much more structured now.",
			"{first} is looking for an internship and {mentor} has passed on three contacts.",
		},
		{
			"Completed {n} sessions of the course and passed the practical assessment with {score}/100.",
			"Now uses the tools from class without any help.",
			"Got a job interview through the course's employer network.",
			"Still finds the theory sessions hard going, but is excellent in the practical ones.",
		},
		{
			"Took part in the volunteering day at {place}: {hours} hours logged.",
			"Led a team of six colleagues at {place}, together with {peer}.",
			"{hours} volunteering hours this quarter, mostly at {place}.",
		},
		{
			"Has increased their monthly gift to {amount}.",
			"Asked for a tax receipt for this year's donations.",
			"Their {amount} donation was matched by the company.",
		},
	},
	noteTheme: map[string][]string{
		"reading": {
			"Reading age has gone up by almost a year since the autumn, says {mentor}.",
			"Now reads a whole chapter aloud without stopping, according to {mentor}.",
			"Chose a library book on their own for the first time.",
			"Spelling test up to {score}/100 this term.",
		},
		"digital": {
			"Now makes video calls to the family without help.",
			"Booked a doctor's appointment online for the first time.",
			"Has learned to spot scam messages and no longer opens suspicious links.",
		},
		"finance": {
			"Can now draw up a monthly budget and compare two loan offers.",
			"Has set up an automatic transfer to savings every payday.",
			"{n} workshops done and the final quiz passed with {score}/100.",
		},
	},
	noteFeeling: [2][]string{{
		"Noticeably more motivated than at the start.",
		"Says the sessions have been a lifeline during a difficult few months.",
		"Found it hard at first but is really enjoying it now.",
		"Seems more tired than last month; worth keeping an eye on.",
		"The family are delighted with the change.",
	}, {
		"Appreciates hearing which charities the money went to.",
		"Says it is an easy way to help every month.",
	}},
	noteQuote: []string{
		"In their words: \"Now I know what I want to do.\"",
		"Told us: \"{mentorFirst} actually listens to me.\"",
		"\"I never thought I'd get this far,\" {first} said at the end of the session.",
		"Quote: \"The best part has been meeting people who believe in me.\"",
	},
	noteNext: [2][]string{{
		"Next step: go through the CV with {manager} before the end of the month.",
		"Next session booked for {date}.",
		"Still need to send the certificate of participation.",
		"Catching up again in two weeks.",
		"Ask {coord} to hold a place in the next cohort.",
	}, {
		"Annual giving statement to be sent by {date}.",
		"Passed to {coord} to check the payment.",
	}},
	notePII: [piiKinds][]string{
		piiPhone:   {"New mobile number: {phone}.", "Prefers a call on {phone} after 5pm."},
		piiEmail:   {"New email address: {email}.", "Send the paperwork to {email}."},
		piiAddress: {"Certificate to be posted to {address}.", "Has moved to {address}."},
		piiIBAN:    {"Bank details for the refund: IBAN {iban}.", "Travel expenses to be paid to IBAN {iban}."},
		piiCard:    {"Donation paid with card {card} was charged twice; refund needed."},
		piiSSN:     {"SSN for the stipend paperwork (W-9): {ssn}."},
		piiNINO:    {"National Insurance number for the bursary form: {nino}."},
	},
	selfOpen: [2][]string{{
		"My experience with {program} has been really positive.",
		"I wanted to let you know how {activity} is going.",
		"I've done {n} sessions so far and I'm so glad I signed up.",
		"I'm writing to say thank you for {activity}.",
	}, {
		"I've been giving to {program} since {month}.",
		"I'm writing about {activity}.",
	}},
	selfOutcome: [4][]string{
		{
			"Thanks to {mentorFirst} I prepared for my first proper job interview.",
			"I've learned to plan my week and to ask for help when I need it.",
			"With {mentorFirst} I've decided what I want to study next year.",
		},
		{
			"I've learned things I never thought I'd understand.",
			"The course has given me the skills to apply for jobs in the sector.",
			"I've passed {n} modules and I'm starting the next one.",
		},
		{
			"This month I did {hours} hours of volunteering at {place} and I'd do it again.",
			"I met colleagues from other teams while working at {place}.",
		},
		{
			"It's great to know exactly where my donation goes.",
			"I've increased my monthly gift to {amount}.",
			"It would be great if the company matched one-off gifts too.",
		},
	},
	selfTheme: map[string][]string{
		"reading": {
			"I read a whole book with {mentorFirst} and it was about dragons.",
			"My favourite bit is when {mentorFirst} does the voices.",
			"Mum says I read to my little brother every night now.",
		},
		"digital": {
			"I can video call my grandchildren on my own now.",
			"I paid a bill with the bank app for the first time.",
			"I've learned to tell when a message is a scam.",
		},
		"finance": {
			"I finally know how to budget and I'm putting money aside every month.",
			"I understood how a store card works and paid mine off.",
		},
	},
	selfFeeling: [2][]string{{
		"I feel much more confident.",
		"I was shy at first, but now I join in without thinking about it.",
		"It's been one of the best things about this year.",
		"It's sometimes hard to fit around work, but it's worth it.",
	}, {
		"It isn't much, but I know it adds up.",
		"It makes me proud to work here.",
	}},
	selfNext: [2][]string{{
		"I'd like to carry on next quarter.",
		"I want to sign up for the next cohort.",
		"Could you send me my attendance certificate?",
		"I can't make it on {date} — could we move the session?",
	}, {
		"Could you send me a receipt for my tax return?",
		"I plan to keep giving next year.",
	}},
	selfPII: [piiKinds][]string{
		piiPhone:   {"My new number is {phone}.", "You can call me on {phone}."},
		piiEmail:   {"Please use {email} from now on."},
		piiAddress: {"My address for the certificate is {address}."},
		piiIBAN:    {"Here is my IBAN for the refund: {iban}."},
		piiCard:    {"I paid my donation with card {card} and was charged twice."},
		piiSSN:     {"For the stipend form, my SSN is {ssn}."},
		piiNINO:    {"My NI number for the bursary form is {nino}."},
	},
	greeting:   []string{"Hi {coord},", "Dear {coord},", "Hello,"},
	signoff:    []string{"Best wishes,\n{name}", "Thanks,\n{first}", "Kind regards,\n{name}\n{phone}"},
	surveySign: []string{"— {first}", "Name: {name}"},
}
