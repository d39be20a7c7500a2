// TideHTTP
