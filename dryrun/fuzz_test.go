package dryrun

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzReadHAR reads hostile HAR files: the reader never panics, and what
// it reads replays through the shop's rules without panicking either.
func FuzzReadHAR(f *testing.F) {
	// Small seeds: the fuzzer minimises each input it finds new, which
	// takes long from a whole recording.
	demo, err := os.ReadFile("testdata/demo.har")
	if err != nil {
		f.Fatal(err)
	}
	for _, i := range []string{"4", "7", "10"} {
		f.Add([]byte(harOf(gjson.GetBytes(demo, "log.entries."+i).Raw)))
	}
	f.Add([]byte(harOf(`{"request":{"method":"POST","url":"http://h/api/orders","postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"a","value":"b"}]}},` +
		`"response":{"status":201,"content":{"size":3,"text":"e30=","encoding":"base64"}}}`)))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"PUT","url":"/api/orders/%41/status"},"response":{"status":200}}]}}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	set, err := LoadRules([]string{"../examples/shop/rules.yaml"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		xs, err := ReadHAR(bytes.NewReader(b))
		if err != nil {
			if xs != nil || !strings.HasPrefix(err.Error(), "not a HAR file") && !strings.HasPrefix(err.Error(), "entry ") {
				t.Fatalf("error %q with %d exchanges", err, len(xs))
			}
			return
		}
		checkExchanges(t, xs)
		Replay(set, xs, Options{})
	})
}

// FuzzReadAccessLog does the same with access logs.
func FuzzReadAccessLog(f *testing.F) {
	sample, err := os.ReadFile("testdata/access.log")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.Split(string(sample), "\n")
	f.Add([]byte(lines[0] + "\n" + lines[1]))
	f.Add([]byte(lines[6]))
	f.Add([]byte(`{"request":{"method":"POST","uri":"/api/webhooks/stripe","body":"{\"type\":\"checkout.session.completed\"}"},"status":200,"resp_body":"{}"}`))
	f.Add([]byte("\n\n{\"request\":{\"method\":\"GET\",\"uri\":\"*\"},\"status\":200}\n"))
	set, err := LoadRules([]string{"../examples/shop/rules.yaml"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		xs, err := ReadAccessLog(bytes.NewReader(b))
		if err != nil {
			if xs != nil || !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q with %d exchanges", err, len(xs))
			}
			return
		}
		checkExchanges(t, xs)
		Replay(set, xs, Options{})
	})
}

// checkExchanges checks what the replay relies on.
func checkExchanges(t *testing.T, xs []Exchange) {
	t.Helper()
	for _, x := range xs {
		if x.Method == "" || x.URL == nil || !strings.HasPrefix(x.URL.Path, "/") && x.URL.Path != "*" || x.Header == nil || x.RespHeader == nil ||
			x.Status < 0 || x.Status > maxStatus {
			t.Fatalf("exchange %d: %+v", x.Index, x)
		}
	}
}
