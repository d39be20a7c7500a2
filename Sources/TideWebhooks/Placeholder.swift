// TideWebhooks
