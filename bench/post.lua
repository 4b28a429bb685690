-- wrk script for the "match" scenario: POST /api/orders with a JSON body.
-- The URL given to wrk carries the path; this only sets method, headers, body.
-- wrk adds Content-Length from wrk.body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"site":"site-1","currency":"CHF","customer":{"email":"jane.doe@example.com","name":"Jane Doe"},'
  .. '"items":[{"sku":"SKU-001","quantity":2},{"sku":"SKU-002","quantity":1}]}'
