"""Review app (/review/): labelers work their queues."""

from django.urls import path

from labeling.review import views

app_name = "review"

urlpatterns = [
    path("", views.home, name="home"),
    path("<int:session_pk>/", views.session_start, name="session"),
    path("<int:session_pk>/next/", views.next_item, name="next"),
    path("<int:session_pk>/done/", views.done, name="done"),
    path("<int:session_pk>/items/<int:item_pk>/", views.item, name="item"),
    path("<int:session_pk>/items/<int:item_pk>/submit/", views.submit, name="submit"),
    path("<int:session_pk>/items/<int:item_pk>/skip/", views.skip, name="skip"),
    path("<int:session_pk>/items/<int:item_pk>/flag/", views.flag, name="flag"),
    path("<int:session_pk>/items/<int:item_pk>/lease/", views.lease, name="lease"),
    path("<int:session_pk>/items/<int:item_pk>/draft/", views.draft, name="draft"),
    path("<int:session_pk>/items/<int:item_pk>/spans/", views.spans, name="spans"),
]
