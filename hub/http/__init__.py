"""HTTP plumbing: a uvicorn server on a bound socket; an upstream call with its errors typed."""
