"""Operations: the system checks (`manage.py check`) and the entry points django-crontab
runs from the crontab.

An interface: may import `alerts`, `signals`, `reporting`, `domain` and the base, not `admin`
or `web`.
"""
