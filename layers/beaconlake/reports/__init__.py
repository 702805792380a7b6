"""E-mail reports and traffic-spike alerts: per-site settings (`book`), the report composed
from the stats queries (`compose`), rendered as plain text and HTML (`render`) and sent by a
job (`job`) through the Mailer port (SMTP locally, SES on AWS)."""
