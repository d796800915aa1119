# The staff's pages: the dashboard, one request, the users (English).

dashboard-heading = Requests
dashboard-counts = Counts by status
dashboard-urgent = urgent, waiting
dashboard-filters = Filters
dashboard-search-hint = Description or location
dashboard-apply = Apply
dashboard-caption = { $total ->
        [one] 1 request
       *[other] { $total } requests
    }
dashboard-caption-at-least = { $total } or more requests
dashboard-charts = Charts
column-number = No.
column-description = Description
column-badges = Status · category · priority
chart-by-category = By category
chart-by-priority = By priority
chart-per-day = Submitted in the last 30 days
chart-day-count = { $count ->
        [one] 1 request
       *[other] { $count } requests
    }

staff-request-title = Manage request #{ $id }
flash-no-changes = Nothing was changed.
flash-saved = Saved.

users-search-hint = Email or name
users-show-all = Show all
users-none = There are no users.
users-none-match = No user matches ‘{ $query }’.
users-me = { $role } (you)
users-role-of = Role of { $email }
users-change = Change
users-reset-link = Make a reset link
users-delete-question = Delete the account { $email } and all of its requests? This cannot be undone.
users-pager = Page { $page } of { $pages } · { $total ->
        [one] 1 user
       *[other] { $total } users
    }
users-pager-found = Page { $page } of { $pages } · { $total ->
        [one] 1 user found
       *[other] { $total } users found
    }

delete-user-title = Delete account
delete-user-question = Do you really want to delete this account? This cannot be undone.
delete-user-requests = { $count ->
        [one] Its 1 request will be deleted with it.
       *[other] Its { $count } requests will be deleted with it.
    }
delete-user-no-requests = This account has not submitted any requests.

flash-not-yourself = You cannot delete your own account.
flash-last-super-admin = At least one super admin must remain.
flash-user-deleted = The account { $email } has been deleted.
flash-role-changed = { $email } is now { $role }.
