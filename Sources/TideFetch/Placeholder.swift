// TideFetch
