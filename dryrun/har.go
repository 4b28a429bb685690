package dryrun

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// harFile is the part of a HAR 1.2 file that a dry run reads. Entries are
// decoded one by one, so that an error names the entry.
type harFile struct {
	Log *struct {
		Entries *[]json.RawMessage `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request struct {
		Method   string      `json:"method"`
		URL      string      `json:"url"`
		Headers  []harHeader `json:"headers"`
		PostData *struct {
			MimeType string      `json:"mimeType"`
			Text     *string     `json:"text"`
			Params   []harHeader `json:"params"`
		} `json:"postData"`
		BodySize float64 `json:"bodySize"`
	} `json:"request"`
	Response *struct {
		Status  float64     `json:"status"`
		Headers []harHeader `json:"headers"`
		Content struct {
			Size     float64 `json:"size"`
			Text     *string `json:"text"`
			Encoding string  `json:"encoding"`
		} `json:"content"`
		BodySize float64 `json:"bodySize"`
	} `json:"response"`
}

// harHeader is a header, or a form parameter of postData.params.
type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ReadHAR reads the exchanges of a HAR 1.2 file (as browsers' developer
// tools and proxies export them), in the order of log.entries. An error
// names the entry it is about.
func ReadHAR(r io.Reader) ([]Exchange, error) {
	var f harFile
	if err := json.NewDecoder(skipBOM(r)).Decode(&f); err != nil {
		return nil, fmt.Errorf("not a HAR file: %w", jsonError(err))
	}
	if f.Log == nil || f.Log.Entries == nil {
		return nil, errors.New("not a HAR file: no log.entries")
	}
	entries := *f.Log.Entries
	out := make([]Exchange, 0, len(entries))
	for i, raw := range entries {
		x, err := harExchange(raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		x.Index = i
		out = append(out, x)
	}
	return out, nil
}

// harExchange reads one entry.
func harExchange(raw json.RawMessage) (Exchange, error) {
	var e harEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Exchange{}, jsonError(err)
	}
	req := &e.Request
	if req.Method == "" {
		return Exchange{}, errors.New("request.method is missing")
	}
	u, err := parseTarget(req.URL)
	if err != nil {
		return Exchange{}, fmt.Errorf("request.url: %w", err)
	}
	x := Exchange{Method: req.Method, URL: u, Header: http.Header{}, RespHeader: http.Header{}}
	for _, h := range req.Headers {
		addHeader(x.Header, h.Name, h.Value)
	}
	x.Body, x.BodyMissing = harPostData(&e)
	if e.Response == nil {
		return Exchange{}, errors.New("response is missing")
	}
	resp := e.Response
	if resp.Status < 0 || resp.Status > maxStatus || resp.Status != float64(int(resp.Status)) {
		return Exchange{}, fmt.Errorf("response.status %v: want an HTTP status code", resp.Status)
	}
	x.Status = int(resp.Status)
	for _, h := range resp.Headers {
		addHeader(x.RespHeader, h.Name, h.Value)
	}
	if x.RespBody, err = harContent(resp.Content.Text, resp.Content.Encoding); err != nil {
		return Exchange{}, fmt.Errorf("response.content: %w", err)
	}
	x.RespBodyMissing = resp.Content.Text == nil && (resp.Content.Size > 0 || resp.BodySize > 0)
	return x, nil
}

// harPostData returns the request body: postData.text, or a form rebuilt
// from postData.params (HAR gives one or the other); missing when the
// request had a body that the entry does not hold.
func harPostData(e *harEntry) (body []byte, missing bool) {
	pd := e.Request.PostData
	switch {
	case pd == nil:
		return nil, e.Request.BodySize > 0
	case pd.Text != nil:
		return []byte(*pd.Text), false
	case len(pd.Params) > 0 && isFormType(pd.MimeType):
		form := url.Values{}
		for _, p := range pd.Params {
			form.Add(p.Name, p.Value)
		}
		return []byte(form.Encode()), false
	}
	return nil, e.Request.BodySize > 0 || len(pd.Params) > 0
}

func isFormType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// harContent decodes response.content.text: HAR holds it decoded from
// the Content-Encoding already, as text or, with encoding base64, as the
// bytes' base64.
func harContent(text *string, encoding string) ([]byte, error) {
	if text == nil {
		return nil, nil
	}
	switch strings.ToLower(encoding) {
	case "":
		return []byte(*text), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*text))
		if err != nil {
			return nil, fmt.Errorf("text is not base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("encoding %q: want base64 or none", encoding)
}

// jsonError makes a JSON error say where it is.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w (at byte %d)", err, se.Offset)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty")
	}
	return err
}

// skipBOM drops the UTF-8 byte order mark that some tools (on Windows)
// write first, which a JSON decoder refuses.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br
}
