"""ServiceNow Table API: a client with paging and retries, and pulls that write landing files."""
