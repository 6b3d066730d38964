"""Meta's Graph API: the WhatsApp Business Cloud API's messages and media endpoints, with httpx."""
