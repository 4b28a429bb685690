package learn

import "strings"

// irregulars are plurals that the suffix rules get wrong, and words that
// are their own singular.
var irregulars = map[string]string{
	"people": "person", "men": "man", "women": "woman", "children": "child",
	"mice": "mouse", "geese": "goose", "feet": "foot", "teeth": "tooth", "oxen": "ox",
	"criteria": "criterion", "phenomena": "phenomenon", "indices": "index",
	"matrices": "matrix", "vertices": "vertex", "appendices": "appendix",
	"analyses": "analysis", "diagnoses": "diagnosis", "theses": "thesis",
	"crises": "crisis", "hypotheses": "hypothesis", "synopses": "synopsis",
	"axes": "axis", "statuses": "status", "buses": "bus", "viruses": "virus",
	"campuses": "campus", "bonuses": "bonus", "censuses": "census",
	"quizzes": "quiz", "leaves": "leaf", "lives": "life", "wives": "wife",
	"knives": "knife", "halves": "half", "shelves": "shelf", "wolves": "wolf",
	"thieves": "thief", "calves": "calf", "loaves": "loaf", "selves": "self",
	"heroes": "hero", "potatoes": "potato", "tomatoes": "tomato", "echoes": "echo",
	"vetoes": "veto", "caches": "cache", "niches": "niche", "movies": "movie",
	"cookies": "cookie", "pies": "pie", "ties": "tie", "lies": "lie",
	"series": "series", "species": "species", "news": "news", "sheep": "sheep",
	"fish": "fish", "deer": "deer", "data": "data", "media": "media",
	"metadata": "metadata", "information": "information", "equipment": "equipment",
	"feedback": "feedback", "software": "software", "analytics": "analytics",
	"alias": "alias", "aliases": "alias", "canvas": "canvas",
}

// singular returns the singular of an English plural noun, as a
// collection's name gives it (orders → order, people → person,
// categories → category, addresses → address). Only the last word of a
// compound changes (line_items → line_item, lineItems → lineItem); a word
// it does not know loses a trailing s (mandats → mandat), and a word
// without one is taken as singular already.
func singular(word string) string {
	cut := lastWordStart(word)
	head, last := word[:cut], word[cut:]
	return head + singularWord(last)
}

// lastWordStart is where the last word of a compound starts: after the
// last - or _, or at its last upper-case letter (camelCase).
func lastWordStart(s string) int {
	i := strings.LastIndexAny(s, "-_")
	start := i + 1
	for j := len(s) - 1; j > start; j-- {
		if s[j] >= 'A' && s[j] <= 'Z' && s[j-1] >= 'a' && s[j-1] <= 'z' {
			return j
		}
	}
	return start
}

// singularWord singularises one word, keeping its case where the rules
// only drop a suffix.
func singularWord(w string) string {
	lower := strings.ToLower(w)
	if s, ok := irregulars[lower]; ok {
		if lower == w {
			return s
		}
		return matchCase(w, s)
	}
	n := len(lower)
	if n != len(w) {
		return w // lower case has other bytes (invalid UTF-8): slicing w by it would cut elsewhere
	}
	switch {
	case n < 3:
		return w
	case strings.HasSuffix(lower, "ies") && n > 4:
		return w[:n-3] + matchCase(w[n-3:], "y")
	case strings.HasSuffix(lower, "sses"), strings.HasSuffix(lower, "xes"),
		strings.HasSuffix(lower, "zzes"), strings.HasSuffix(lower, "ches"),
		strings.HasSuffix(lower, "shes"):
		return w[:n-2]
	case strings.HasSuffix(lower, "ss"), strings.HasSuffix(lower, "us"),
		strings.HasSuffix(lower, "is"):
		return w // class, status, analysis: singular already
	case strings.HasSuffix(lower, "s"):
		return w[:n-1]
	}
	return w
}

// matchCase writes s in the case of like: upper case when like is.
func matchCase(like, s string) string {
	if like == strings.ToUpper(like) {
		return strings.ToUpper(s)
	}
	if like[0] >= 'A' && like[0] <= 'Z' {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
