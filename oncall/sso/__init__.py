"""Single sign-on with OpenID Connect (mozilla-django-oidc), configured from the environment.

`rolemap` parses the settings (no Django imports: settings read it), `provider` finds the
provider's endpoints, `services` signs a person in from their claims, `backends` and `views`
plug that into mozilla-django-oidc and the login pages.
"""
