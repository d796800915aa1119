# The staff's pages: the dashboard, one request, the users (Korean).

dashboard-heading = 요청 현황
dashboard-counts = 상태별 건수
dashboard-urgent = 긴급 대기
dashboard-filters = 필터
dashboard-search-hint = 설명 또는 위치
dashboard-apply = 적용
dashboard-caption = 요청 { $total }건
dashboard-caption-at-least = 요청 { $total }건 이상
dashboard-charts = 차트
column-number = 번호
column-description = 설명
column-badges = 상태 · 분류 · 긴급도
chart-by-category = 분류별
chart-by-priority = 긴급도별
chart-per-day = 최근 30일 접수
chart-day-count = { $count }건

staff-request-title = 요청 #{ $id } 관리
flash-no-changes = 바뀐 내용이 없습니다.
flash-saved = 저장했습니다.

users-search-hint = 이메일 또는 이름
users-show-all = 전체 보기
users-none = 사용자가 없습니다.
users-none-match = ‘{ $query }’에 맞는 사용자가 없습니다.
users-me = { $role } (나)
users-role-of = { $email }의 역할
users-change = 변경
users-reset-link = 재설정 링크 만들기
users-delete-question = { $email } 계정과 그 계정의 요청을 모두 삭제하시겠습니까? 되돌릴 수 없습니다.
users-pager = { $page } / { $pages } 쪽 · 전체 { $total }명
users-pager-found = { $page } / { $pages } 쪽 · 검색 결과 { $total }명

delete-user-title = 계정 삭제
delete-user-question = 정말 이 계정을 삭제하시겠습니까? 삭제하면 되돌릴 수 없습니다.
delete-user-requests = 이 계정의 요청 { $count }건도 함께 삭제됩니다.
delete-user-no-requests = 이 계정이 접수한 요청은 없습니다.

flash-not-yourself = 자기 자신의 계정은 삭제할 수 없습니다.
flash-last-super-admin = 최고 관리자가 한 명은 남아 있어야 합니다.
flash-user-deleted = { $email } 계정을 삭제했습니다.
flash-role-changed = { $email }의 역할을 { $role }(으)로 바꿨습니다.
