// Command gen writes the redactor's gazetteer, gazetteer.txt.gz: every name part of the
// source lists, folded (lower case, no diacritics), one a line, sorted. A part is tagged
// "\tg" when a list of given names has it (such a name is taken even alone, where it
// does not start a sentence), "\tw" when it is also an ordinary word of one of the
// dictionaries given (taken only next to another name part or in a context that says it
// is a person), and "\tv" when it is both ("Jean", "Grace": taken alone only inside a
// sentence, where the capital says it is a name).
// scripts/gen-gazetteer.sh fetches the sources and runs this.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/impactflow/impactflow/internal/redact/internal/fold"
)

func main() {
	surnames := flag.String("names", "", "file of first and last names, one a line (humannames' list.txt)")
	givenDir := flag.String("given", "", "directory of per-locale given-name maps (gender-detection-from-name's names/)")
	extra := flag.String("extra", "", "file of further given names, one a line")
	dicts := flag.String("dicts", "", "comma-separated hunspell .dic files whose lower-case words are ordinary words")
	out := flag.String("out", "gazetteer.txt.gz", "file to write")
	flag.Parse()

	tags := map[string]byte{} // folded name → 0, 'g' or 'w'
	for _, n := range mustLines(*surnames) {
		addParts(tags, n, 0)
	}
	for _, n := range mustLines(*extra) {
		if !strings.HasPrefix(n, "#") {
			addParts(tags, n, 'g')
		}
	}
	files, err := filepath.Glob(filepath.Join(*givenDir, "*.js"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no given-name maps in %q", *givenDir)
	}
	entry := regexp.MustCompile(`\[\s*'([^']+)'\s*,`)
	for _, f := range files {
		for _, line := range mustLines(f) {
			if m := entry.FindStringSubmatch(line); m != nil {
				addParts(tags, m[1], 'g')
			}
		}
	}

	words := map[string]bool{}
	for _, d := range strings.Split(*dicts, ",") {
		for i, line := range mustLines(d) {
			w, _, _ := strings.Cut(line, "/")
			if i == 0 || w == "" || !unicode.IsLower([]rune(w)[0]) {
				continue // the count line, and proper nouns, which are often names
			}
			words[fold.Word(w)] = true
		}
	}

	names := make([]string, 0, len(tags))
	for n := range tags {
		names = append(names, n)
	}
	slices.Sort(names)
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	bw := bufio.NewWriter(zw)
	counts := map[byte]int{}
	for _, n := range names {
		tag := tags[n]
		if words[n] {
			if tag == 'g' {
				tag = 'v'
			} else {
				tag = 'w'
			}
		}
		counts[tag]++
		if tag == 0 {
			fmt.Fprintln(bw, n)
		} else {
			fmt.Fprintf(bw, "%s\t%c\n", n, tag)
		}
	}
	for _, c := range []error{bw.Flush(), zw.Close(), f.Close()} {
		if c != nil {
			log.Fatal(c)
		}
	}
	log.Printf("wrote %s: %d names (%d given, %d ordinary words, %d both)", *out, len(names), counts['g'], counts['w'], counts['v'])
}

// addParts records each part of a (possibly multi-word) name; a curated given name's tag
// wins over an untagged entry of the same part.
func addParts(tags map[string]byte, name string, tag byte) {
	for _, p := range strings.Fields(name) {
		p = fold.Word(p)
		if !plausible(p) {
			continue
		}
		if old, ok := tags[p]; !ok || old == 0 {
			tags[p] = tag
		}
	}
}

// plausible keeps parts of two or more letters, with at most inner apostrophes and hyphens.
func plausible(p string) bool {
	letters := 0
	for i, r := range p {
		switch {
		case unicode.IsLetter(r):
			letters++
		case (r == '\'' || r == '-') && i > 0 && i < len(p)-1:
		default:
			return false
		}
	}
	return letters >= 2
}

func mustLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
